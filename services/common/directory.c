#include "common/directory.h"

#include "liaison/v1/directory.pb-c.h"

const char *directory_staff_role_name(int role)
{
    switch (role) {
    case LIAISON__V1__STAFF_ROLE__STAFF_ROLE_LIAISON_OFFICE:
        return "liaison-office";
    case LIAISON__V1__STAFF_ROLE__STAFF_ROLE_LIAISON_OFFICER:
        return "liaison-officer";
    case LIAISON__V1__STAFF_ROLE__STAFF_ROLE_DEPARTMENT_HEAD:
        return "department-head";
    case LIAISON__V1__STAFF_ROLE__STAFF_ROLE_HANDLER:
        return "handler";
    case LIAISON__V1__STAFF_ROLE__STAFF_ROLE_COURT_LEADER:
        return "court-leader";
    case LIAISON__V1__STAFF_ROLE__STAFF_ROLE_PRESIDENT:
        return "president";
    default:
        return NULL;
    }
}

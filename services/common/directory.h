/* directory — the directory's words as the events carry them, for the
 * daemons that project intake's directory (routing, deadline). */
#ifndef LIAISON_COMMON_DIRECTORY_H
#define LIAISON_COMMON_DIRECTORY_H

/* The API name of a liaison.v1.StaffRole ("president", "court-leader", …),
 * as intake's directory spells it; NULL for a value this build does not
 * know (a newer producer), which the caller skips. */
const char *directory_staff_role_name(int role);

#endif

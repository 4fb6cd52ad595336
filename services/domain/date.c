/* domain_date — civil dates and court-local zones. See date.h. */
#include "domain/date.h"

#include <stdio.h>
#include <string.h>

domain_date_t domain_date(int year, int month, int day)
{
    domain_date_t d = {year, month, day};
    return d;
}

bool domain_date_is_leap_year(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int domain_date_days_in_month(int year, int month)
{
    static const int s_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12)
        return 0;
    if (month == 2 && domain_date_is_leap_year(year))
        return 29;
    return s_days[month - 1];
}

bool domain_date_valid(domain_date_t date)
{
    if (date.year < DOMAIN_DATE_MIN_YEAR || date.year > DOMAIN_DATE_MAX_YEAR)
        return false;
    if (date.month < 1 || date.month > 12)
        return false;
    return date.day >= 1 && date.day <= domain_date_days_in_month(date.year, date.month);
}

/* Days from civil: the era-based algorithm (H. Hinnant, "chrono-Compatible
 * Low-Level Date Algorithms"). Exact for the proleptic Gregorian calendar. */
int32_t domain_date_to_days(domain_date_t date)
{
    int y = date.year - (date.month <= 2);
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int mp = (date.month + 9) % 12; /* March = 0 */
    int doy = (153 * mp + 2) / 5 + date.day - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + doe - 719468);
}

domain_date_t domain_date_from_days(int32_t days)
{
    int z = (int)days + 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    int doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    domain_date_t d;
    d.day = doy - (153 * mp + 2) / 5 + 1;
    d.month = mp < 10 ? mp + 3 : mp - 9;
    d.year = yoe + era * 400 + (d.month <= 2);
    return d;
}

int32_t domain_date_min_days(void)
{
    return domain_date_to_days(domain_date(DOMAIN_DATE_MIN_YEAR, 1, 1));
}

int32_t domain_date_max_days(void)
{
    return domain_date_to_days(domain_date(DOMAIN_DATE_MAX_YEAR, 12, 31));
}

domain_weekday_t domain_date_weekday(domain_date_t date)
{
    /* 1970-01-01 was a Thursday (ISO 4). */
    int32_t n = domain_date_to_days(date);
    int w = (int)((n % 7 + 7 + 3) % 7); /* 0 = Monday */
    return (domain_weekday_t)(w + 1);
}

int domain_date_day_of_year(domain_date_t date)
{
    return (int)(domain_date_to_days(date) - domain_date_to_days(domain_date(date.year, 1, 1))) + 1;
}

int domain_date_compare(domain_date_t a, domain_date_t b)
{
    if (a.year != b.year)
        return a.year < b.year ? -1 : 1;
    if (a.month != b.month)
        return a.month < b.month ? -1 : 1;
    if (a.day != b.day)
        return a.day < b.day ? -1 : 1;
    return 0;
}

bool domain_date_equal(domain_date_t a, domain_date_t b)
{
    return domain_date_compare(a, b) == 0;
}

int domain_date_add_days(domain_date_t date, int n, domain_date_t *out)
{
    if (!domain_date_valid(date))
        return -1;
    int64_t r = (int64_t)domain_date_to_days(date) + n;
    if (r < domain_date_min_days() || r > domain_date_max_days())
        return -1;
    *out = domain_date_from_days((int32_t)r);
    return 0;
}

int domain_date_add_months(domain_date_t date, int n, domain_date_t *out)
{
    if (!domain_date_valid(date))
        return -1;
    /* Work in months since year 0 so negative n needs no special case. */
    int64_t m = (int64_t)date.year * 12 + (date.month - 1) + n;
    if (m < (int64_t)DOMAIN_DATE_MIN_YEAR * 12 || m > (int64_t)DOMAIN_DATE_MAX_YEAR * 12 + 11)
        return -1;
    domain_date_t r;
    r.year = (int)(m / 12);
    r.month = (int)(m % 12) + 1;
    /* 到期月的对应日; 没有对应日的, 月末日 (DOMAIN.md §4.1). */
    int last = domain_date_days_in_month(r.year, r.month);
    r.day = date.day > last ? last : date.day;
    *out = r;
    return 0;
}

static int s_digits(const char *p, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

int domain_date_parse_n(const char *text, size_t len, domain_date_t *out)
{
    if (!text || len != 10 || text[4] != '-' || text[7] != '-')
        return -1;
    int y = s_digits(text, 4), m = s_digits(text + 5, 2), d = s_digits(text + 8, 2);
    if (y < 0 || m < 0 || d < 0)
        return -1;
    domain_date_t r = {y, m, d};
    if (!domain_date_valid(r))
        return -1;
    *out = r;
    return 0;
}

int domain_date_parse(const char *text, domain_date_t *out)
{
    if (!text)
        return -1;
    return domain_date_parse_n(text, strnlen(text, 11), out);
}

char *domain_date_format(domain_date_t date, char *buf)
{
    /* Clamp each field so an invalid value can never overflow the buffer. */
    unsigned y = (unsigned)date.year % 10000u, m = (unsigned)date.month % 100u,
             d = (unsigned)date.day % 100u;
    snprintf(buf, DOMAIN_DATE_STRLEN, "%04u-%02u-%02u", y, m, d);
    return buf;
}

const char *domain_weekday_name(domain_weekday_t weekday)
{
    static const char *s_names[] = {"?", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    return weekday >= DOMAIN_MONDAY && weekday <= DOMAIN_SUNDAY ? s_names[weekday] : "?";
}

const char *domain_weekday_name_zh(domain_weekday_t weekday)
{
    static const char *s_names[] = {"?", "周一", "周二", "周三", "周四", "周五", "周六", "周日"};
    return weekday >= DOMAIN_MONDAY && weekday <= DOMAIN_SUNDAY ? s_names[weekday] : "?";
}

/* ---- zones ---------------------------------------------------------------- */

/* Zones whose offset has been fixed since a known instant. China kept daylight
 * saving time 1986–1991; the last change back to UTC+8 was 1991-09-15 02:00
 * local (1991-09-14 17:00 UTC), so instants before 1991-09-15 are refused rather
 * than answered with a wrong date. Hong Kong and Macau (UTC+8) last observed
 * summer time in 1979. A zone not listed here is refused: a court's zone must be
 * correct, not approximately right. */
typedef struct {
    const char *name;
    const char *canonical;
    int32_t offset;
    int64_t valid_from;
} s_zone_entry_t;

static const s_zone_entry_t s_zones[] = {
    {"Asia/Shanghai", "Asia/Shanghai", 8 * 3600, 684867600},
    {"Asia/Chongqing", "Asia/Shanghai", 8 * 3600, 684867600},
    {"Asia/Chungking", "Asia/Shanghai", 8 * 3600, 684867600},
    {"Asia/Harbin", "Asia/Shanghai", 8 * 3600, 684867600},
    {"PRC", "Asia/Shanghai", 8 * 3600, 684867600},
    {"Asia/Hong_Kong", "Asia/Hong_Kong", 8 * 3600, 309312000},
    {"Asia/Macau", "Asia/Macau", 8 * 3600, 309312000},
    {"UTC", "UTC", 0, -2208988800LL},
    {"Etc/UTC", "UTC", 0, -2208988800LL},
};

int domain_zone_find(const char *name, domain_zone_t *out)
{
    if (!name || !out)
        return -1;
    for (size_t i = 0; i < sizeof s_zones / sizeof s_zones[0]; i++) {
        if (strcmp(name, s_zones[i].name) == 0) {
            memset(out, 0, sizeof *out);
            snprintf(out->name, sizeof out->name, "%s", s_zones[i].canonical);
            out->utc_offset_s = s_zones[i].offset;
            out->valid_from = s_zones[i].valid_from;
            return 0;
        }
    }
    return -1;
}

static int64_t s_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

int domain_zone_local_date(const domain_zone_t *zone, int64_t instant, domain_date_t *out)
{
    if (!zone || !out || instant < zone->valid_from)
        return -1;
    /* Guard the addition and the day range before narrowing. */
    if (instant > (int64_t)domain_date_max_days() * 86400 + 86399)
        return -1;
    int64_t local = instant + zone->utc_offset_s;
    int64_t days = s_floor_div(local, 86400);
    if (days < domain_date_min_days() || days > domain_date_max_days())
        return -1;
    *out = domain_date_from_days((int32_t)days);
    return 0;
}

int domain_zone_start_of_day(const domain_zone_t *zone, domain_date_t date, int64_t *out)
{
    if (!zone || !out || !domain_date_valid(date))
        return -1;
    int64_t t = (int64_t)domain_date_to_days(date) * 86400 - zone->utc_offset_s;
    if (t < zone->valid_from)
        return -1;
    *out = t;
    return 0;
}

int domain_zone_end_of_day(const domain_zone_t *zone, domain_date_t date, int64_t *out)
{
    if (!zone || !out || !domain_date_valid(date))
        return -1;
    int64_t t = ((int64_t)domain_date_to_days(date) + 1) * 86400 - zone->utc_offset_s;
    if (t - 86400 < zone->valid_from)
        return -1;
    *out = t;
    return 0;
}

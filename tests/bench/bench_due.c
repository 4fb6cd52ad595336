/* Due-date computations per second on one core: every rule over every
 * trigger date of 2024–2026 against the shipped calendar's facts. Prints
 * due_per_s=N. The day tables make each day's lookup O(1). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "domain/calendar.h"
#include "domain/explain.h"
#include "domain/rules.h"

static const char s_text[] =
    "version = bench\n"
    "[year 2024]\nnotice = 国办发明电〔2023〕7号\n"
    "rest = 2024-01-01 元旦\nrest = 2024-02-10..2024-02-17 春节\nrest = 2024-04-04..2024-04-06 "
    "清明节\n"
    "rest = 2024-05-01..2024-05-05 劳动节\nrest = 2024-06-10 端午节\nrest = 2024-09-15..2024-09-17 "
    "中秋节\n"
    "rest = 2024-10-01..2024-10-07 国庆节\nwork = 2024-02-04 调休\nwork = 2024-02-18 调休\nwork = "
    "2024-04-07 调休\n"
    "work = 2024-04-28 调休\nwork = 2024-05-11 调休\nwork = 2024-09-14 调休\nwork = 2024-09-29 "
    "调休\n"
    "work = 2024-10-12 调休\n"
    "[year 2025]\nnotice = 国办发明电〔2024〕12号\n"
    "rest = 2025-01-01 元旦\nrest = 2025-01-28..2025-02-04 春节\nrest = 2025-04-04..2025-04-06 "
    "清明节\n"
    "rest = 2025-05-01..2025-05-05 劳动节\nrest = 2025-05-31..2025-06-02 端午节\n"
    "rest = 2025-10-01..2025-10-08 国庆节、中秋节\nwork = 2025-01-26 调休\nwork = 2025-02-08 调休\n"
    "work = 2025-04-27 调休\nwork = 2025-09-28 调休\nwork = 2025-10-11 调休\n"
    "[year 2026]\nnotice = 2026\n"
    "rest = 2026-01-01..2026-01-03 元旦\nrest = 2026-02-15..2026-02-23 春节\nrest = "
    "2026-04-04..2026-04-06 清明节\n"
    "rest = 2026-05-01..2026-05-05 劳动节\nrest = 2026-06-19..2026-06-21 端午节\nrest = "
    "2026-09-25..2026-09-27 中秋节\n"
    "rest = 2026-10-01..2026-10-07 国庆节\nwork = 2026-01-04 调休\nwork = 2026-02-14 调休\nwork = "
    "2026-02-28 调休\n"
    "work = 2026-05-09 调休\nwork = 2026-09-20 调休\nwork = 2026-10-10 调休\n";

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    char err[256];
    domain_calendar_t *cal = domain_calendar_parse(s_text, strlen(s_text), err, sizeof err);
    if (!cal) {
        fprintf(stderr, "bench_due: %s\n", err);
        return 1;
    }
    domain_rules_t rules;
    domain_rules_defaults(&rules);
    domain_rules_set(&rules, "answer-quick", "unit", "workdays", err, sizeof err);
    static const domain_rule_id_t ids[] = {
        DOMAIN_RULE_REGISTER,     DOMAIN_RULE_TRANSFER,       DOMAIN_RULE_ANSWER_LEAD,
        DOMAIN_RULE_ANSWER_CO,    DOMAIN_RULE_ANSWER_BETWEEN, DOMAIN_RULE_ANSWER_BETWEEN_MAX,
        DOMAIN_RULE_ANSWER_QUICK, DOMAIN_RULE_REHANDLE,       DOMAIN_RULE_ACTIVITY_NOTICE,
    };
    const size_t nids = sizeof ids / sizeof ids[0];
    int32_t first = domain_date_to_days(domain_date(2024, 1, 8));
    int32_t last = domain_date_to_days(domain_date(2026, 8, 31));
    domain_explain_t ex;
    long n = 0, ok = 0;
    unsigned long check = 0;
    double t0 = s_now(), t1;
    do {
        for (int32_t t = first; t <= last; t++) {
            domain_date_t trigger = domain_date_from_days(t);
            for (size_t i = 0; i < nids; i++) {
                if (domain_rules_due(&rules, ids[i], cal, NULL, trigger, 0, &ex) == 0) {
                    ok++;
                    check += (unsigned long)ex.due.day;
                }
                n++;
            }
        }
        t1 = s_now();
    } while (t1 - t0 < 2.0);
    printf("due_per_s=%.0f\n", (double)n / (t1 - t0));
    fprintf(stderr, "bench_due: %ld computations (%ld with a date) in %.2f s, checksum %lu\n", n,
            ok, t1 - t0, check);
    domain_calendar_destroy(&cal);
    return ok == n ? 0 : 1;
}

-- A court's own deadline rules and days (DOMAIN.md §4.2: every number is
-- per-court configuration; §4.1: a court's own rest and working days), as
-- intake's CourtUpserted carries them from the court's directory record.
--
-- rule_overrides: {"rule.setting": "value", ...}, applied over the
-- regulation's defaults with domain_rules_apply (key order does not matter,
-- so jsonb may keep them in its own). calendar_overrides: the lines of a
-- [court ID] section of the work calendar (deploy/calendar/README.md),
-- applied over the shared calendar file. Both are checked by intake before
-- they are published and again by the consumer before they are stored here.
--
-- Courts projected before this migration get '{}' and '': their overrides
-- arrive with their next CourtUpserted.
ALTER TABLE court
    ADD COLUMN rule_overrides     jsonb NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(rule_overrides) = 'object'),
    ADD COLUMN calendar_overrides text  NOT NULL DEFAULT '';
COMMENT ON COLUMN court.rule_overrides IS 'the court''s deadline rule overrides {"rule.setting": "value"} (CourtUpserted.rule_overrides)';
COMMENT ON COLUMN court.calendar_overrides IS 'the court''s own rest and working days, work-calendar syntax (CourtUpserted.calendar_overrides)';

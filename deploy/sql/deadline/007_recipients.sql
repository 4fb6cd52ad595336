-- Recipients a rule can name beyond the handling department's people
-- (DOMAIN.md §1, §4.2 "who is told at each step"): the court president
-- (院长) and the deputies' paired liaison officers (挂点联络员, Art. 6, 9),
-- whom case-year-end (Art. 9(5)) and activity-notice (Art. 9(2)) tell by
-- default and a court's notify-* overrides may name for any rule.
--
-- The firing path resolves them with one set-wise query per batch, and only
-- for the stages that name them (deadline_store.c); these indexes keep that
-- query to index probes.

-- StaffUpserted.roles, by their stable names (liaison-office,
-- liaison-officer, department-head, handler, court-leader, president).
-- Staff projected before this migration get '{}' until their next
-- StaffUpserted.
ALTER TABLE staff ADD COLUMN roles text[] NOT NULL DEFAULT '{}';
COMMENT ON COLUMN staff.roles IS 'StaffUpserted.roles by name (president, liaison-officer, ...)';
CREATE INDEX staff_president ON staff (court_id, staff_id)
    WHERE active AND 'president' = ANY (roles);

-- Deputies, as far as a notice needs them: the paired liaison officer
-- (DeputyUpserted.liaison_officer_staff_id). Never deleted: a deputy whose
-- term ended keeps the record (DOMAIN.md §1).
CREATE TABLE deputy (
    deputy_id                text   PRIMARY KEY,
    court_id                 text   NOT NULL,
    revision                 bigint NOT NULL,
    liaison_officer_staff_id text   NOT NULL DEFAULT ''
);
COMMENT ON TABLE deputy IS 'deputies with their paired liaison officer (挂点联络员, Art. 9)';

-- The deputies an item names (ItemRegistered.deputies; a correction of the
-- deputies replaces them). Items registered before this migration have none:
-- their officer-bound notices go to the liaison office with the reason.
CREATE TABLE item_deputy (
    item_id   text    NOT NULL,
    deputy_id text    NOT NULL,
    lead      boolean NOT NULL DEFAULT false,  -- 领衔代表
    PRIMARY KEY (item_id, deputy_id)
);
COMMENT ON TABLE item_deputy IS 'the deputies of each item, for notices to their paired liaison officers';

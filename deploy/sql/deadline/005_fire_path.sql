-- The firing path, measured (make bench-deadline): a stage fired is one
-- UPDATE of its deadline and one INSERT of its history row, a thousand at a
-- time. What each costs per thousand on the reference machine:
--
--   * the foreign key of deadline_history: a lookup and a trigger call per
--     row, 160 ms of a 170 ms insert. Its rows are written only by the daemon,
--     in the transaction that updates the deadline they name, so the key
--     guarded nothing the code does not; it goes.
--   * every index of deadline is written again by each non-HOT update, and
--     firing always changes next_fire_at (indexed), so each index costs on
--     every stage. The department view filters within a court: the
--     (court_id, due_at_us) index serves it, and deadline_department goes.
ALTER TABLE deadline_history DROP CONSTRAINT IF EXISTS deadline_history_deadline_id_fkey;
DROP INDEX IF EXISTS deadline_department;

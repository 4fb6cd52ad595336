-- Registration now runs in batches (005/006: item_claim, item_reserve_batch,
-- item_store_batch); the single-registration item_reserve() of 004 has no
-- caller left.
DROP FUNCTION item_reserve(text, text, text, text[], integer, date, text, text, text);

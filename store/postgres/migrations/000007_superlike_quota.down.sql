DROP FUNCTION swipe_batch_quota(int8[], int8[], text[], int8[], int4[], int8[]);
DROP INDEX swipes_superlikes_by_uid;

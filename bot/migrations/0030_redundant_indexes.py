# Issue 18: drop the one-column foreign-key indexes that another index of the same table already
# starts with (found by comparing pg_index key lists). A look-up by the foreign key, and the
# ON DELETE CASCADE behind it, uses the longer index just as well; the short one only cost work
# on every INSERT and every UPDATE that makes a new row version (see bench/README.md). Per private
# reply that is 14 index entries fewer: `message` (two rows, each inserted and then updated by the
# send's claim and outcome), comment, identity, contact_tag, campaign_run, campaign_step. The
# models declare these foreign keys with `index=False`.

REDUNDANT = (  # (table, dropped index, its column); the index that covers it, after the colon
    ("message", "message_conversation_id", "conversation_id"),  # : (conversation_id, occurred_at)
    ("message", "message_channel_id", "channel_id"),  # : (channel_id, recipient_id, direction, status)
    ("comment", "comment_channel_id", "channel_id"),  # : (channel_id, post_id, created_at)
    ("identity", "identity_channel_id", "channel_id"),  # : unique (channel_id, scoped_id)
    ("contact_tag", "contacttag_contact_id", "contact_id"),  # : unique (contact_id, tag_id)
    ("conversation", "conversation_team_id", "team_id"),  # : (team_id, status, last_message_at)
    ("campaign_run", "campaignrun_campaign_id", "campaign_id"),  # : (campaign_id, created_at)
    ("campaign_action", "campaignaction_campaign_id", "campaign_id"),  # : (campaign_id, position)
    ("campaign_step", "campaignstep_run_id", "run_id"),  # : (run_id, position)
    ("campaign_person", "campaignperson_campaign_id", "campaign_id"),  # : (campaign_id, person)
    ("email_digest", "emaildigest_conversation_id", "conversation_id"),  # : (conversation_id, status)
    ("notification", "notification_user_id", "user_id"),  # : (user_id, read_at)
    ("hook_delivery", "hookdelivery_endpoint_id", "endpoint_id"),  # : (endpoint_id, created_at)
    ("channel_health_event", "channelhealthevent_channel_id", "channel_id"),  # : (channel_id, created_at)
    ("backfill_run", "backfillrun_channel_id", "channel_id"),  # : (channel_id, created_at)
    ("reply_draft", "replydraft_user_id", "user_id"),  # : (user_id, conversation_id)
    ("note", "note_conversation_id", "conversation_id"),  # : (conversation_id, created_at)
    ("contact_attribute", "contactattribute_contact_id", "contact_id"),  # : (contact_id, attribute_id)
    ("status_change", "statuschange_conversation_id", "conversation_id"),  # : (conversation_id, at)
    ("meta_upload", "metaupload_file_id", "file_id"),  # : (file_id, channel_id)
    ("team_member", "teammember_team_id", "team_id"),  # : (team_id, user_id)
)


def up(migrator, db):
    for _, index, _ in REDUNDANT:
        db.execute_sql(f'DROP INDEX IF EXISTS "{index}"')


def down(migrator, db):
    for table, index, column in REDUNDANT:
        db.execute_sql(f'CREATE INDEX IF NOT EXISTS "{index}" ON "{table}" ("{column}")')

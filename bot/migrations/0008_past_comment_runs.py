# Campaign runs made by "send to eligible past comments" were recorded with source 'dry_run',
# although they really sent; they are 'past_comment' from now on (a dry run records nothing).
# Written by hand; data only.


def up(migrator, db):
    db.execute_sql("UPDATE campaign_run SET source = 'past_comment' WHERE source = 'dry_run'")


def down(migrator, db):
    db.execute_sql("UPDATE campaign_run SET source = 'dry_run' WHERE source = 'past_comment'")

"""`/api/v1/campaigns`: comment campaigns: create, update, activate, deactivate, dry run on the
stored comments of the last days, and the funnel. Admins only."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller
from litestar.params import Parameter

from api.guards import requires
from api.resources import get, post, put
from api.schemas import CampaignBody, CampaignIn, IdParam, QueuedOut
from bot import commands, queries
from bot.automation import campaigns, referral_triggers
from bot.automation.campaign_stats import Funnel
from bot.automation.campaigns import DRY_RUN_DAYS, DryRunReport
from bot.platform.db import connection
from bot.queries import CampaignView
from bot.staff.permissions import Action

Days = Annotated[int, Parameter(ge=1, le=30, description="how many days of stored comments to replay")]


class CampaignController(Controller):
    path = "/campaigns"
    tags = ["campaigns"]
    guards = [requires(Action.MANAGE_CAMPAIGNS)]

    @get(summary="List campaigns")
    def list_campaigns(self) -> list[CampaignView]:
        with connection():
            return queries.campaigns()

    @post(summary="Create a campaign")
    def create(self, data: CampaignBody) -> CampaignView:
        with connection():
            return queries.campaign(campaigns.save(_spec(data)).id)

    @post("/dry-run", status_code=200, summary="What an unsaved campaign would have done on recent comments")
    def dry_run_unsaved(self, data: CampaignBody, days: Days = DRY_RUN_DAYS) -> DryRunReport:
        with connection():
            return referral_triggers.dry_run_any(_spec(data), days=days)

    @get("/{campaign_id:str}", summary="A campaign")
    def get_campaign(self, campaign_id: IdParam) -> CampaignView:
        with connection():
            return queries.campaign(campaign_id)

    @put("/{campaign_id:str}", summary="Replace a campaign's definition")
    def update(self, campaign_id: IdParam, data: CampaignBody) -> CampaignView:
        with connection():
            queries.campaign(campaign_id)  # 404 first: no point validating a body for a missing campaign
            return queries.campaign(campaigns.save(_spec(data), campaign_id).id)

    @post("/{campaign_id:str}/activate", status_code=200, summary="Start answering comments")
    def activate(self, campaign_id: IdParam) -> CampaignView:
        with connection():
            return queries.campaign(campaigns.set_active(campaign_id, True).id)

    @post("/{campaign_id:str}/deactivate", status_code=200, summary="Stop answering comments")
    def deactivate(self, campaign_id: IdParam) -> CampaignView:
        with connection():
            return queries.campaign(campaigns.set_active(campaign_id, False).id)

    @post("/{campaign_id:str}/dry-run", status_code=200,
          summary="What the saved campaign would do on recent comments")
    def dry_run(self, campaign_id: IdParam, days: Days = DRY_RUN_DAYS) -> DryRunReport:
        with connection():
            return referral_triggers.dry_run_any(queries.campaign_spec(campaign_id), campaign_id=campaign_id,
                                                 days=days)

    @post("/{campaign_id:str}/send-to-past-comments", status_code=200,
          summary="Answer the stored comments it matches that are still within Meta's private-reply window")
    def send_to_past_comments(self, campaign_id: IdParam) -> QueuedOut:
        with connection():
            comments, queued = commands.send_campaign_to_past_comments(campaign_id)
            return QueuedOut(comments=comments, queued=queued)

    @get("/{campaign_id:str}/stats", summary="The campaign's funnel: matched, sent, delivered, read, clicked")
    def stats(self, campaign_id: IdParam) -> Funnel:
        with connection():
            return queries.campaign_funnel(campaign_id)


def _spec(data: CampaignIn) -> campaigns.CampaignSpec:
    return data.spec(campaigns.resolve_channel(data.channel_id, data.page_id))

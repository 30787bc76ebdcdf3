"""`/api/v1/deliveries`: Meta webhook deliveries the expander quarantined after failing on them
repeatedly, and putting one back in line. Admins only."""

from __future__ import annotations

from litestar import Controller

from api.guards import requires
from api.resources import get, post
from api.schemas import IdParam
from bot import commands
from bot.inbound import quarantine
from bot.inbound.quarantine import QuarantinedDelivery
from bot.platform.db import connection
from bot.staff.permissions import Action


class DeliveryController(Controller):
    path = "/deliveries"
    tags = ["deliveries"]
    guards = [requires(Action.MANAGE_DELIVERIES)]

    @get("/quarantined", summary="Deliveries set aside after repeated failures, newest first, with the reason")
    def list_quarantined(self) -> list[QuarantinedDelivery]:
        with connection():
            return quarantine.quarantined()

    @post("/{delivery_id:str}/retry", status_code=202, summary="Put a quarantined delivery back in line")
    def retry(self, delivery_id: IdParam) -> None:
        with connection():
            commands.retry_delivery(delivery_id)

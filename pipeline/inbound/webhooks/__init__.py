"""ESP webhooks, verified and parsed into Events (pure: the caller gives the request's bytes
and headers, the keys, the clock, and any fetching or remembering the check needs).

Each `parse_*` returns the events to apply (an empty list for events that change nothing:
deliveries, opens) or raises WebhookRejected, whose `status` is the HTTP answer to give: 401 when
the request carries no credentials, 403 when they are wrong, stale or replayed, 400 when the
authenticated body is unusable. A rejected request changes nothing."""

from .common import WebhookRejected
from .mailgun import parse_mailgun
from .postmark import parse_postmark
from .sendgrid import parse_sendgrid
from .sns import check_sns_url, parse_sns

__all__ = ["WebhookRejected", "check_sns_url", "parse_mailgun", "parse_postmark",
           "parse_sendgrid", "parse_sns"]

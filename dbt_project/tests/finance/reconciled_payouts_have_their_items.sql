-- Every automatic payout Stripe reports reconciled has its items: the ingester reads them from the same payout
-- object the table holds, so one without is a load that went wrong (or a warehouse loaded before the ingester
-- read payout items, until the next full reconciliation reads them). Warn: the numbers that are there hold.
-- Returns the reconciled automatic payouts without any item.
{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'analytics__payouts'}}}) }}

select
    account_id,
    payout_id,
    amount,
    created_at
from {{ ref('analytics__payouts') }}
where is_automatic
    and reconciliation_status = 'completed'
    and not has_items

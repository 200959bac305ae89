-- The analysts' `analytics.subscriptions`: one row per subscription, with its MRR now and what its invoices
-- collected.

with

subscriptions as (

    select * from {{ ref('stripe__subscriptions') }}

),

invoices as (

    select * from {{ ref('stripe__invoices') }}

),

subscription_mrr as (

    -- The MRR models' current MRR of each subscription (major units, in the subscription's currency).
    select * from {{ ref('int_stripe__subscription_mrr_current') }}

),

invoice_totals as (

    -- An invoice is in its subscription's currency, so these sums never mix currencies. Deleted (draft)
    -- invoices never existed for the customer and are not counted.
    select
        account_id,
        subscription_id,
        count(*) as invoice_count,
        cast(sum(case when status = 'paid' then 1 else 0 end) as bigint) as paid_invoice_count,
        cast(sum(amount_paid) as bigint) as total_paid,
        sum(amount_paid_decimal) as total_paid_decimal
    from invoices
    where subscription_id is not null
        and not is_deleted
    group by account_id, subscription_id

),

final as (

    select
        -- ids
        subscriptions.account_id,
        subscriptions.subscription_id,
        subscriptions.customer_id,
        subscriptions.latest_invoice_id,

        -- strings
        subscriptions.status,
        subscriptions.collection_method,
        subscriptions.cancellation_reason,
        subscriptions.currency,

        -- numerics
        coalesce(subscription_mrr.mrr, 0) as current_mrr,
        coalesce(subscription_mrr.contract_mrr, 0) as current_contract_mrr,
        coalesce(invoice_totals.invoice_count, 0) as invoice_count,
        coalesce(invoice_totals.paid_invoice_count, 0) as paid_invoice_count,
        coalesce(invoice_totals.total_paid, 0) as total_paid,
        coalesce(invoice_totals.total_paid_decimal, 0) as total_paid_decimal,

        -- booleans
        subscriptions.cancel_at_period_end,
        subscriptions.is_deleted,

        -- timestamps
        subscriptions.created_at,
        subscriptions.started_at,
        subscriptions.trial_start_at,
        subscriptions.trial_end_at,
        subscriptions.cancel_at,
        subscriptions.canceled_at,
        subscriptions.ended_at

    from subscriptions
    left join subscription_mrr
        on subscriptions.account_id = subscription_mrr.account_id
            and subscriptions.subscription_id = subscription_mrr.subscription_id
    left join invoice_totals
        on subscriptions.account_id = invoice_totals.account_id
            and subscriptions.subscription_id = invoice_totals.subscription_id

)

select * from final

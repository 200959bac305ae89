-- The analysts' `analytics.subscription_churn`: one row per subscription that ended canceled, with why
-- (Stripe's cancellation_details, https://docs.stripe.com/api/subscriptions/object#subscription_object-cancellation_details:
-- reason cancellation_requested, payment_failed or payment_disputed; the customer's feedback and comment)
-- and the MRR it took with it.

with

subscriptions as (

    select * from {{ ref('stripe__subscriptions') }}

),

subscription_mrr_monthly as (

    select * from {{ ref('int_stripe__subscription_mrr_monthly') }}

),

dunning_invoices as (

    select * from {{ ref('analytics__dunning_invoices') }}

),

churned as (

    -- Canceled and ended; incomplete_expired subscriptions never started (their first payment failed).
    select *
    from subscriptions
    where status = 'canceled'
        and ended_at is not null
        and not is_deleted

),

last_mrr as (

    -- The subscription's MRR at the last month end before it ended, as analytics.mrr_monthly counted it.
    select
        churned.account_id,
        churned.subscription_id,
        subscription_mrr_monthly.month,
        subscription_mrr_monthly.mrr,
        row_number() over (
            partition by churned.account_id, churned.subscription_id
            order by subscription_mrr_monthly.month desc
        ) as recency
    from churned
    inner join subscription_mrr_monthly
        on churned.account_id = subscription_mrr_monthly.account_id
            and churned.subscription_id = subscription_mrr_monthly.subscription_id
            and churned.ended_at > subscription_mrr_monthly.evaluated_at

),

dunning_ended as (

    -- Subscriptions that ended while a failed renewal was still owed: canceled by the dunning settings
    -- ("cancel the subscription" once all retries fail) when Stripe names no reason (objects older than
    -- cancellation_details).
    select distinct
        account_id,
        subscription_id
    from dunning_invoices
    where outcome = 'subscription_canceled'

),

final as (

    select
        -- ids
        churned.account_id,
        churned.subscription_id,
        churned.customer_id,

        -- strings
        lower(churned.currency) as currency,
        -- voluntary: the customer (or the merchant for them) canceled; involuntary: payment failed, or the
        -- dunning settings canceled it; other: a dispute, or no reason known.
        case
            when churned.cancellation_reason = 'cancellation_requested' then 'voluntary'
            when churned.cancellation_reason = 'payment_failed' then 'involuntary'
            when churned.cancellation_reason is null and dunning_ended.subscription_id is not null then 'involuntary'
            else 'other'
        end as churn_type,
        churned.cancellation_reason,
        churned.cancellation_feedback,
        churned.cancellation_comment,

        -- dates
        cast({{ dbt.date_trunc('month', 'churned.ended_at') }} as date) as churn_month,
        last_mrr.month as last_mrr_month,

        -- numerics
        cast(coalesce(last_mrr.mrr, 0) as {{ dbt.type_numeric() }}) as mrr_before_churn,

        -- booleans
        -- Ended before its trial did (or as it ended, without paying): a trial that did not convert.
        coalesce(churned.trial_end_at is not null and churned.ended_at <= churned.trial_end_at, false)
            as is_trial_cancellation,
        churned.cancel_at_period_end,

        -- timestamps
        churned.started_at,
        churned.trial_end_at,
        churned.canceled_at,
        churned.ended_at

    from churned
    left join last_mrr
        on churned.account_id = last_mrr.account_id
            and churned.subscription_id = last_mrr.subscription_id
            and last_mrr.recency = 1
    left join dunning_ended
        on churned.account_id = dunning_ended.account_id
            and churned.subscription_id = dunning_ended.subscription_id

)

select * from final

-- The analysts' `analytics.trials`: one row per subscription that had a trial, with how the trial ended.
-- Stripe's trial lifecycle (https://docs.stripe.com/billing/subscriptions/trials, and the subscription's
-- `status`, https://docs.stripe.com/api/subscriptions/object#subscription_object-status): a subscription is
-- `trialing` until trial_end, then `active` and its first paid period is invoiced (billing_reason
-- subscription_cycle) and charged; a declined charge makes it `past_due` and dunning retries it, ending in a
-- payment or in `canceled`/`unpaid`. A trial that ends without a payment method follows
-- trial_settings.end_behavior.missing_payment_method: `create_invoice` (past_due), `cancel` (canceled) or
-- `pause` (the `paused` status, the only way into it). Ending a trial early moves trial_end to that moment.

with

subscriptions as (

    select * from {{ ref('stripe__subscriptions') }}

),

invoices as (

    select * from {{ ref('stripe__invoices') }}

),

trials as (

    select *
    from subscriptions
    where trial_start_at is not null
        and trial_end_at is not null
        and not is_deleted

),

conversions as (

    -- The first invoice made at or after the trial's end that was paid: the trial's own $0 invoice is made
    -- at its start, so it never counts. A $0 first invoice (a 100 % coupon) still converts the subscription.
    select
        trials.account_id,
        trials.subscription_id,
        min(invoices.paid_at) as converted_at
    from trials
    inner join invoices
        on trials.account_id = invoices.account_id
            and trials.subscription_id = invoices.subscription_id
    where invoices.created_at >= trials.trial_end_at
        and invoices.status = 'paid'
        and invoices.paid_at is not null
        and not invoices.is_deleted
    group by trials.account_id, trials.subscription_id

),

dated as (

    select
        trials.*,
        conversions.converted_at,
        -- When the trial stopped: its end, or the subscription's end when it was canceled during the trial;
        -- null while it runs.
        case
            when trials.ended_at is not null and trials.ended_at < trials.trial_end_at then trials.ended_at
            when trials.status = 'trialing' and trials.ended_at is null then null
            else trials.trial_end_at
        end as trial_ended_at
    from trials
    left join conversions
        on trials.account_id = conversions.account_id
            and trials.subscription_id = conversions.subscription_id

),

final as (

    select
        -- ids
        account_id,
        subscription_id,
        customer_id,

        -- strings
        lower(currency) as currency,
        status,
        trial_missing_payment_method_behavior,
        cancellation_reason,
        -- By the first rule that holds: paid after the trial; ended without paying (during the trial, at its
        -- end for want of a payment method, or after dunning gave up on the first invoice); still in trial;
        -- paused for want of a payment method; else waiting for the first invoice to be paid (past_due,
        -- unpaid, or its invoice not finalized yet).
        case
            when converted_at is not null then 'converted'
            when ended_at is not null then 'canceled'
            when status = 'trialing' then 'in_trial'
            when status = 'paused' then 'paused'
            else 'awaiting_payment'
        end as outcome,

        -- numerics
        cast(
            {{ dbt.datediff('trial_start_at', 'trial_end_at', 'second') }} / 86400.0 as {{ dbt.type_numeric() }}
        ) as trial_days,
        -- Days from the trial's start to the payment that converted it, with fractions.
        case
            when converted_at is not null
                then cast(
                        {{ dbt.datediff('trial_start_at', 'converted_at', 'second') }} / 86400.0
                        as {{ dbt.type_numeric() }}
                    )
        end as days_to_convert,

        -- booleans
        converted_at is not null as is_converted,
        cancel_at_period_end,

        -- timestamps
        trial_start_at,
        trial_end_at,
        trial_ended_at,
        converted_at,
        canceled_at,
        ended_at

    from dated

)

select * from final

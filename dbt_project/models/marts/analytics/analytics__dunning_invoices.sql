-- The analysts' `analytics.dunning_invoices`: one row per renewal invoice (billing_reason subscription_cycle)
-- whose first payment attempt failed, with how its dunning ended.
-- Stripe retries a failed renewal on its retry schedule (Smart Retries) while the subscription is past_due; once
-- every retry failed, the account's settings cancel the subscription, mark it unpaid or leave it past_due, and
-- mark the invoice uncollectible or leave it open (https://docs.stripe.com/billing/revenue-recovery/smart-retries,
-- https://docs.stripe.com/invoicing/automatic-collection). Each attempt is a charge of the invoice's payment
-- intent, reached through Stripe's invoice payment objects (an invoice no longer names its payment intent since
-- API version 2025-03-31): the first charge tells whether the first attempt failed.

with

invoices as (

    select * from {{ ref('stripe__invoices') }}

),

invoice_payments as (

    select * from {{ ref('stripe__invoice_payments') }}

),

charges as (

    select * from {{ ref('stripe__charges') }}

),

subscriptions as (

    select * from {{ ref('stripe__subscriptions') }}

),

renewals as (

    select *
    from invoices
    where billing_reason = 'subscription_cycle'
        and not is_deleted

),

payment_charges as (

    -- Every charge made for a renewal: those of its payment intents, and a charge paying it directly (an
    -- invoice payment of type `charge`). Two joins rather than one with `or`, which would compare every pair.
    select
        invoice_payments.account_id,
        invoice_payments.invoice_id,
        charges.charge_id,
        charges.status,
        charges.created_at
    from invoice_payments
    inner join charges
        on invoice_payments.account_id = charges.account_id
            and invoice_payments.payment_intent_id = charges.payment_intent_id

    union

    select
        invoice_payments.account_id,
        invoice_payments.invoice_id,
        charges.charge_id,
        charges.status,
        charges.created_at
    from invoice_payments
    inner join charges
        on invoice_payments.account_id = charges.account_id
            and invoice_payments.payment_charge_id = charges.charge_id

),

attempts as (

    select
        payment_charges.*,
        row_number() over (
            partition by payment_charges.account_id, payment_charges.invoice_id
            order by payment_charges.created_at, payment_charges.charge_id
        ) as attempt_number
    from payment_charges
    inner join renewals
        on payment_charges.account_id = renewals.account_id
            and payment_charges.invoice_id = renewals.invoice_id

),

attempt_summaries as (

    select
        account_id,
        invoice_id,
        max(case when attempt_number = 1 then status end) as first_attempt_status,
        min(case when attempt_number = 1 then created_at end) as first_attempt_at,
        count(*) as charge_attempts,
        sum(case when status = 'failed' then 1 else 0 end) as failed_attempts,
        max(case when status = 'failed' then created_at end) as last_failed_at
    from attempts
    group by account_id, invoice_id

),

failed_renewals as (

    select
        renewals.*,
        attempt_summaries.first_attempt_at as first_failed_at,
        attempt_summaries.last_failed_at,
        attempt_summaries.failed_attempts,
        subscriptions.status as subscription_status,
        subscriptions.ended_at as subscription_ended_at,
        subscriptions.cancellation_reason as subscription_cancellation_reason
    from renewals
    inner join attempt_summaries
        on renewals.account_id = attempt_summaries.account_id
            and renewals.invoice_id = attempt_summaries.invoice_id
    left join subscriptions
        on renewals.account_id = subscriptions.account_id
            and renewals.subscription_id = subscriptions.subscription_id
    where attempt_summaries.first_attempt_status = 'failed'

),

final as (

    select
        -- ids
        account_id,
        invoice_id,
        subscription_id,
        customer_id,

        -- strings
        currency,
        status as invoice_status,
        subscription_status,
        subscription_cancellation_reason,
        -- By the first rule that holds: paid in the end (recovered); the subscription ended while the invoice
        -- was still owed (canceled by dunning or otherwise); written off while the subscription goes on
        -- (uncollectible); voided; else still open (retries to come, or the subscription unpaid or past_due).
        case
            when status = 'paid' then 'recovered'
            when subscription_ended_at is not null then 'subscription_canceled'
            when status = 'uncollectible' then 'uncollectible'
            when status = 'void' then 'void'
            else 'open'
        end as outcome,

        -- numerics
        amount_due,
        amount_due_decimal,
        amount_paid,
        amount_paid_decimal,
        amount_remaining,
        amount_remaining_decimal,
        -- Stripe's own count of payment attempts, and the failed charges seen.
        attempt_count,
        cast(failed_attempts as {{ dbt.type_bigint() }}) as failed_attempts,
        case
            when status = 'paid'
                then cast(
                        {{ dbt.datediff('first_failed_at', 'paid_at', 'second') }} / 3600.0 as {{ dbt.type_numeric() }}
                    )
        end as hours_to_recover,
        case
            when status = 'paid'
                then cast(
                        {{ dbt.datediff('first_failed_at', 'paid_at', 'second') }} / 86400.0 as {{ dbt.type_numeric() }}
                    )
        end as days_to_recover,

        -- booleans
        status = 'paid' as is_recovered,
        subscription_ended_at is not null and status <> 'paid' as is_subscription_canceled,

        -- timestamps
        created_at,
        finalized_at,
        first_failed_at,
        last_failed_at,
        next_payment_attempt_at,
        case when status = 'paid' then paid_at end as recovered_at,
        voided_at,
        marked_uncollectible_at,
        subscription_ended_at

    from failed_renewals

)

select * from final

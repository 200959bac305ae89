-- When a subscription was unpaid, inferred from its invoices: one row per subscription and spell
-- [unpaid_from_at, unpaid_to_at), unpaid_to_at null while it lasts.
-- After the last failed retry of a renewal invoice Stripe cancels the subscription, marks it unpaid, or
-- leaves it past_due (an account setting). An unpaid subscription's invoice stays open with no attempt
-- scheduled, its billing periods keep moving and their invoices stay in draft; paying the latest invoice
-- makes it active again, and its drafts are finalized then (docs.stripe.com/billing/subscriptions/overview,
-- "Subscription statuses" and "Unpaid invoices"). The events that dated the change are gone after 30 days, so
-- the spell is read from what remains:
-- - still unpaid: an invoice Stripe gave up retrying (open or uncollectible, attempted, no next attempt) with
--   no payment of the subscription after it, on a subscription unpaid now or with later invoices still draft
--   (a canceled one was unpaid before it ended);
-- - unpaid, then paid: an invoice paid after failed attempts while a renewal created after it, before that
--   payment, stayed draft for days (Stripe finalizes a renewal an hour after creating it, 72 hours at most,
--   and a past_due subscription's renewals are finalized and tried as they come): unpaid until the latest of
--   those invoices was paid.
-- A spell starts at the invoice's last failed charge (through invoice_payments), else at its finalization.

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
    where subscription_id is not null
        and collection_method = 'charge_automatically'
        and not is_deleted

),

failed_attempts as (

    select
        invoice_payments.account_id,
        invoice_payments.invoice_id,
        max(charges.created_at) as last_failed_attempt_at
    from invoice_payments
    inner join charges
        on invoice_payments.account_id = charges.account_id
            and invoice_payments.payment_intent_id = charges.payment_intent_id
    where charges.status = 'failed'
    group by invoice_payments.account_id, invoice_payments.invoice_id

),

given_up as (

    -- Attempted, still owed, no attempt scheduled, and nothing of the subscription paid since.
    select
        renewals.account_id,
        renewals.subscription_id,
        renewals.invoice_id,
        renewals.created_at,
        renewals.finalized_at
    from renewals
    where renewals.status in ('open', 'uncollectible')
        and coalesce(renewals.attempt_count, 0) > 0
        and renewals.next_payment_attempt_at is null
        and not exists (
            select 1
            from renewals as later
            where later.account_id = renewals.account_id
                and later.subscription_id = renewals.subscription_id
                and later.paid_at > renewals.created_at
                and later.total > 0
        )

),

still_unpaid as (

    select
        given_up.account_id,
        given_up.subscription_id,
        given_up.invoice_id,
        given_up.finalized_at,
        given_up.created_at,
        cast(null as {{ dbt.type_timestamp() }}) as unpaid_to_at,
        'open_invoice' as inferred_from,
        row_number() over (
            partition by given_up.account_id, given_up.subscription_id
            order by given_up.created_at, given_up.invoice_id
        ) as given_up_number
    from given_up
    inner join subscriptions
        on given_up.account_id = subscriptions.account_id
            and given_up.subscription_id = subscriptions.subscription_id
    where subscriptions.status = 'unpaid'
        or exists (
            select 1
            from renewals as later
            where later.account_id = given_up.account_id
                and later.subscription_id = given_up.subscription_id
                and later.status = 'draft'
                and later.created_at > given_up.created_at
        )

),

paid_after_drafts as (

    -- Drafts held back until the late payment: the subscription was unpaid, not past_due, in between.
    select
        late.account_id,
        late.subscription_id,
        late.invoice_id,
        late.finalized_at,
        late.created_at,
        max(case when held.paid_at > late.paid_at then held.paid_at else late.paid_at end) as unpaid_to_at
    from renewals as late
    inner join renewals as held
        on late.account_id = held.account_id
            and late.subscription_id = held.subscription_id
            and late.created_at < held.created_at
            and late.paid_at > held.created_at
            and held.finalized_at > {{ dbt.dateadd('hour', 72, 'held.created_at') }}
    where late.status = 'paid'
        and coalesce(late.attempt_count, 0) > 1
    group by late.account_id, late.subscription_id, late.invoice_id, late.finalized_at, late.created_at

),

spells as (

    select
        account_id,
        subscription_id,
        invoice_id,
        finalized_at,
        created_at,
        unpaid_to_at,
        inferred_from
    from still_unpaid
    where given_up_number = 1

    union all

    select
        account_id,
        subscription_id,
        invoice_id,
        finalized_at,
        created_at,
        unpaid_to_at,
        'paid_late' as inferred_from
    from paid_after_drafts

),

final as (

    select
        -- ids
        spells.account_id,
        spells.subscription_id,
        spells.invoice_id,

        -- strings
        spells.inferred_from,

        -- timestamps
        failed_attempts.last_failed_attempt_at,
        coalesce(failed_attempts.last_failed_attempt_at, spells.finalized_at, spells.created_at) as unpaid_from_at,
        spells.unpaid_to_at

    from spells
    left join failed_attempts
        on spells.account_id = failed_attempts.account_id
            and spells.invoice_id = failed_attempts.invoice_id

)

select * from final

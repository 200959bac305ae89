-- The analysts' `analytics.payments`: one row per charge, with its fees from the balance and the invoice and
-- subscription it paid.

with

charges as (

    select * from {{ ref('stripe__charges') }}

),

balance_transactions as (

    select * from {{ ref('stripe__balance_transactions') }}

),

invoices as (

    select * from {{ ref('stripe__invoices') }}

),

invoice_payments as (

    select * from {{ ref('stripe__invoice_payments') }}

),

events as (

    select * from {{ ref('stripe__events') }}

),

charge_balance_transactions as (

    -- A captured charge moves the balance once: a balance transaction of type `charge` (cards) or `payment`
    -- (other methods) whose source is the charge. Its currency is the account's settlement currency, which
    -- differs from the charge's when Stripe converted it; the settled amount, fee and net exist only there.
    select
        account_id,
        source_id as charge_id,
        balance_transaction_id,
        currency as settlement_currency,
        amount as amount_settled,
        amount_decimal as amount_settled_decimal,
        fee,
        fee_decimal,
        net,
        net_decimal,
        exchange_rate,
        available_on_at
    from balance_transactions
    where balance_transaction_type in ('charge', 'payment')

),

invoice_payment_links as (

    -- Since API version 2025-03-31 a charge no longer names its invoice, nor an invoice its payment intent:
    -- Stripe's invoice payment objects (invoice <-> payment intent, or <-> charge for a charge made without a
    -- payment intent) do. An invoice can have several (a canceled attempt, then the one that paid it), and a
    -- payment intent is meant to pay one invoice; should it name several, the paid one wins, then the
    -- default one, then the latest.
    select
        account_id,
        coalesce(payment_intent_id, payment_charge_id) as payment_key,
        case when payment_intent_id is not null then 'payment_intent' else 'charge' end as payment_key_type,
        invoice_id,
        row_number() over (
            partition by account_id, coalesce(payment_intent_id, payment_charge_id)
            order by
                case when status = 'paid' then 0 else 1 end,
                case when is_default then 0 else 1 end,
                created_at desc,
                invoice_payment_id desc
        ) as link_rank
    from invoice_payments
    where invoice_id is not null
        and coalesce(payment_intent_id, payment_charge_id) is not null

),

invoice_payment_events as (

    -- Fallback only, for payment intents that stripe.invoice_payments does not (yet) have: an invoice payment
    -- created after /v1/invoice_payments was read but before /v1/events in the same sync, or a deployment
    -- whose warehouse predates the invoice_payments table until its next full sync. Events cover Stripe's
    -- last 30 days only, so they cannot stand in for the table, but they cost one filtered scan here.
    select
        account_id,
        {{ json_text('data_object', 'payment.payment_intent') }} as payment_intent_id,
        {{ json_text('data_object', 'invoice') }} as invoice_id,
        row_number() over (
            partition by account_id, {{ json_text('data_object', 'payment.payment_intent') }}
            order by created_at desc, event_id desc
        ) as event_rank
    from events
    where object_type = 'invoice_payment'
        and {{ json_text('data_object', 'payment.payment_intent') }} is not null
        and {{ json_text('data_object', 'invoice') }} is not null

),

payment_intent_invoices as (

    -- One invoice per payment intent: from the table, else from its latest invoice_payment.* event.
    select
        account_id,
        payment_key as payment_intent_id,
        invoice_id
    from invoice_payment_links
    where payment_key_type = 'payment_intent'
        and link_rank = 1

    union all

    select
        invoice_payment_events.account_id,
        invoice_payment_events.payment_intent_id,
        invoice_payment_events.invoice_id
    from invoice_payment_events
    where invoice_payment_events.event_rank = 1
        and not exists (
            select 1
            from invoice_payment_links
            where invoice_payment_links.account_id = invoice_payment_events.account_id
                and invoice_payment_links.payment_key = invoice_payment_events.payment_intent_id
                and invoice_payment_links.payment_key_type = 'payment_intent'
        )

),

charge_invoices as (

    -- Invoices paid by a charge itself (payment type `charge`), which has no payment intent to join on.
    select
        account_id,
        payment_key as charge_id,
        invoice_id
    from invoice_payment_links
    where payment_key_type = 'charge'
        and link_rank = 1

),

final as (

    select
        -- ids
        charges.account_id,
        charges.charge_id,
        charges.payment_intent_id,
        charges.customer_id,
        -- One invoice per charge: its payment intent's, else its own (the two never both exist for one charge).
        coalesce(payment_intent_invoices.invoice_id, charge_invoices.invoice_id) as invoice_id,
        invoices.subscription_id,
        charge_balance_transactions.balance_transaction_id,
        charges.payment_method_id,

        -- strings
        charges.status,
        charges.failure_code,
        charges.failure_message,
        charges.outcome_type,
        charges.payment_method_type,
        charges.card_brand,
        charges.card_country,
        charges.description,
        charges.currency,
        charge_balance_transactions.settlement_currency,

        -- numerics
        charges.amount,
        charges.amount_decimal,
        charges.amount_captured,
        charges.amount_captured_decimal,
        charges.amount_refunded,
        charges.amount_refunded_decimal,
        charge_balance_transactions.amount_settled,
        charge_balance_transactions.amount_settled_decimal,
        charge_balance_transactions.fee,
        charge_balance_transactions.fee_decimal,
        charge_balance_transactions.net,
        charge_balance_transactions.net_decimal,
        charge_balance_transactions.exchange_rate,

        -- booleans
        charges.is_captured,
        charges.is_refunded,
        charges.is_disputed,
        charges.is_livemode,

        -- timestamps
        charges.created_at,
        charge_balance_transactions.available_on_at

    from charges
    left join charge_balance_transactions
        on charges.account_id = charge_balance_transactions.account_id
            and charges.charge_id = charge_balance_transactions.charge_id
    left join payment_intent_invoices
        on charges.account_id = payment_intent_invoices.account_id
            and charges.payment_intent_id = payment_intent_invoices.payment_intent_id
    left join charge_invoices
        on charges.account_id = charge_invoices.account_id
            and charges.charge_id = charge_invoices.charge_id
    left join invoices
        on charges.account_id = invoices.account_id
            and invoices.invoice_id = coalesce(payment_intent_invoices.invoice_id, charge_invoices.invoice_id)

)

select * from final

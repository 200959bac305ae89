-- analytics.customer_lifecycle: one row per customer that ever paid (a succeeded charge) or had MRR: when it
-- first paid and first had MRR, whether it is active now, its latest churn and reactivation, how many months it
-- has paid for, and what it paid over its lifetime.
-- Lifecycle dates are per customer, all currencies together: a customer is active in a month in which it has
-- MRR in any currency, so moving from one currency to another is no churn here (customer_mrr_monthly, per
-- currency, shows a churn in one and a new in the other).
-- Lifetime revenue is read from stripe.charges and stripe.refunds and kept to one currency per customer, the
-- currency of its MRR (see the YAML); the other currencies' totals are in analytics.customer_revenue.

with

customer_mrr as (

    select * from {{ ref('analytics__customer_mrr_monthly') }}

),

months as (

    select * from {{ ref('int_stripe__mrr_months') }}

),

charges as (

    select * from {{ ref('stripe__charges') }}

),

refunds as (

    select * from {{ ref('stripe__refunds') }}

),

currency_exponents as (

    select * from {{ ref('currency_exponents') }}

),

current_months as (

    -- The account's current month: the month of mrr_as_of, where every currency's month spine ends.
    select
        account_id,
        max(month) as current_month
    from months
    group by account_id

),

active_months as (

    -- The months in which the customer has MRR, in any currency.
    select distinct
        account_id,
        customer_id,
        month
    from customer_mrr
    where mrr > 0

),

spell_starts as (

    -- Months with MRR after a month without: the first month, and every return (a reactivation).
    select
        active_months.account_id,
        active_months.customer_id,
        active_months.month
    from active_months
    left join active_months as previous_months
        on active_months.account_id = previous_months.account_id
            and active_months.customer_id = previous_months.customer_id
            and previous_months.month = cast({{ dbt.dateadd('month', -1, 'active_months.month') }} as date)
    where previous_months.customer_id is null

),

mrr_lifecycle as (

    select
        active_months.account_id,
        active_months.customer_id,
        min(active_months.month) as first_mrr_month,
        max(active_months.month) as last_mrr_month,
        count(*) as tenure_months
    from active_months
    group by active_months.account_id, active_months.customer_id

),

reactivations as (

    select
        spell_starts.account_id,
        spell_starts.customer_id,
        max(spell_starts.month) as reactivated_month
    from spell_starts
    inner join mrr_lifecycle
        on spell_starts.account_id = mrr_lifecycle.account_id
            and spell_starts.customer_id = mrr_lifecycle.customer_id
    where spell_starts.month > mrr_lifecycle.first_mrr_month
    group by spell_starts.account_id, spell_starts.customer_id

),

mrr_currencies as (

    -- The currency of the customer's MRR: that of its latest month with MRR (with MRR in several currencies
    -- that month, the one with the most MRR).
    select
        account_id,
        customer_id,
        currency,
        row_number() over (
            partition by account_id, customer_id
            order by month desc, mrr desc, currency asc
        ) as recency
    from customer_mrr
    where mrr > 0

),

refunded as (

    -- What was refunded of each charge: refunds pending or succeeded (the balance was debited); a failed refund
    -- is reversed and a canceled one never left (Stripe: https://docs.stripe.com/api/refunds/object, status).
    select
        account_id,
        charge_id,
        sum(amount) as amount_refunded
    from refunds
    where status in ('pending', 'succeeded')
        and charge_id is not null
    group by account_id, charge_id

),

currency_revenue as (

    -- Per customer and currency: what its succeeded charges captured, and what was refunded of them.
    select
        charges.account_id,
        charges.customer_id,
        charges.currency,
        sum(charges.amount_captured) as paid,
        sum(coalesce(refunded.amount_refunded, 0)) as refunded,
        min(charges.created_at) as first_paid_at
    from charges
    left join refunded
        on charges.account_id = refunded.account_id
            and charges.charge_id = refunded.charge_id
    where charges.status = 'succeeded'
        and charges.customer_id is not null
    group by charges.account_id, charges.customer_id, charges.currency

),

payers as (

    select
        account_id,
        customer_id,
        min(first_paid_at) as first_paid_at,
        count(*) as payment_currency_count
    from currency_revenue
    group by account_id, customer_id

),

first_payment_currencies as (

    -- Without MRR, lifetime revenue is in the currency of the customer's first payment.
    select
        account_id,
        customer_id,
        currency,
        row_number() over (partition by account_id, customer_id order by first_paid_at, currency) as payment_order
    from currency_revenue

),

customers as (

    select
        account_id,
        customer_id
    from mrr_lifecycle

    union

    select
        account_id,
        customer_id
    from payers

),

with_currency as (

    select
        customers.account_id,
        customers.customer_id,
        coalesce(mrr_currencies.currency, first_payment_currencies.currency) as currency
    from customers
    left join mrr_currencies
        on customers.account_id = mrr_currencies.account_id
            and customers.customer_id = mrr_currencies.customer_id
            and mrr_currencies.recency = 1
    left join first_payment_currencies
        on customers.account_id = first_payment_currencies.account_id
            and customers.customer_id = first_payment_currencies.customer_id
            and first_payment_currencies.payment_order = 1

),

final as (

    select
        -- ids
        with_currency.account_id,
        with_currency.customer_id,

        -- strings
        with_currency.currency,

        -- numerics
        cast(coalesce(mrr_lifecycle.tenure_months, 0) as {{ dbt.type_bigint() }}) as tenure_months,
        cast(coalesce(currency_revenue.paid, 0) as {{ dbt.type_bigint() }}) as lifetime_paid,
        {{ to_major_units('coalesce(currency_revenue.paid, 0)', 'currency_exponents.exponent') }} as lifetime_paid_decimal,
        cast(coalesce(currency_revenue.refunded, 0) as {{ dbt.type_bigint() }}) as lifetime_refunded,
        {{ to_major_units('coalesce(currency_revenue.refunded, 0)', 'currency_exponents.exponent') }} as lifetime_refunded_decimal,
        cast(coalesce(currency_revenue.paid - currency_revenue.refunded, 0) as {{ dbt.type_bigint() }}) as lifetime_revenue,
        {{ to_major_units('coalesce(currency_revenue.paid - currency_revenue.refunded, 0)', 'currency_exponents.exponent') }} as lifetime_revenue_decimal,

        -- booleans
        coalesce(mrr_lifecycle.last_mrr_month = current_months.current_month, false) as is_active,
        -- Paid in a currency other than `currency`: those totals are not in lifetime_* (see customer_revenue).
        coalesce(
            payers.payment_currency_count > case when currency_revenue.customer_id is null then 0 else 1 end,
            false
        ) as has_revenue_in_other_currencies,

        -- dates
        mrr_lifecycle.first_mrr_month,
        mrr_lifecycle.last_mrr_month,
        -- The latest churn: the month after the last month with MRR, unless that is the current month.
        case
            when mrr_lifecycle.last_mrr_month < current_months.current_month
                then cast({{ dbt.dateadd('month', 1, 'mrr_lifecycle.last_mrr_month') }} as date)
        end as churned_month,
        reactivations.reactivated_month,

        -- timestamps
        payers.first_paid_at

    from with_currency
    left join mrr_lifecycle
        on with_currency.account_id = mrr_lifecycle.account_id
            and with_currency.customer_id = mrr_lifecycle.customer_id
    left join reactivations
        on with_currency.account_id = reactivations.account_id
            and with_currency.customer_id = reactivations.customer_id
    left join current_months
        on with_currency.account_id = current_months.account_id
    left join payers
        on with_currency.account_id = payers.account_id
            and with_currency.customer_id = payers.customer_id
    left join currency_revenue
        on with_currency.account_id = currency_revenue.account_id
            and with_currency.customer_id = currency_revenue.customer_id
            and with_currency.currency = currency_revenue.currency
    left join currency_exponents
        on with_currency.currency = currency_exponents.currency

)

select * from final

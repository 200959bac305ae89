-- The analysts' `analytics.customers`: one row per customer, with what it paid and its MRR now. Sums of money
-- are only meaningful within one currency: for a customer charged in several, the per-currency figures are in
-- analytics.customer_revenue and the totals here are null.

with

customers as (

    select * from {{ ref('stripe__customers') }}

),

customer_revenue as (

    select * from {{ ref('analytics__customer_revenue') }}

),

subscription_mrr as (

    -- The MRR models' current MRR of each subscription (major units, in the subscription's currency).
    select * from {{ ref('int_stripe__subscription_mrr_current') }}

),

revenue as (

    select
        account_id,
        customer_id,
        count(*) as payment_currency_count,
        -- The one currency the customer was charged in; with several, null like the totals that need it.
        case when count(*) = 1 then max(currency) end as payment_currency,
        case when count(*) = 1 then cast(sum(total_paid) as bigint) end as total_paid,
        case when count(*) = 1 then cast(sum(total_paid_decimal) as {{ dbt.type_numeric() }}) end as total_paid_decimal,
        case when count(*) = 1 then cast(sum(total_refunded) as bigint) end as total_refunded,
        case when count(*) = 1 then cast(sum(total_refunded_decimal) as {{ dbt.type_numeric() }}) end as total_refunded_decimal,
        cast(sum(successful_payment_count) as bigint) as successful_payment_count,
        cast(sum(failed_payment_count) as bigint) as failed_payment_count,
        min(first_payment_at) as first_payment_at,
        max(last_payment_at) as last_payment_at
    from customer_revenue
    where customer_id is not null
    group by account_id, customer_id

),

mrr as (

    select
        account_id,
        customer_id,
        count(distinct currency) as mrr_currency_count,
        max(currency) as mrr_currency,
        cast(sum(mrr) as {{ dbt.type_numeric() }}) as mrr
    from subscription_mrr
    where mrr <> 0
    group by account_id, customer_id

),

final as (

    select
        -- ids
        customers.account_id,
        customers.customer_id,

        -- strings
        customers.email,
        customers.customer_name,
        customers.address_country,
        customers.currency,
        revenue.payment_currency,
        case when mrr.mrr_currency_count = 1 then mrr.mrr_currency end as mrr_currency,

        -- numerics
        coalesce(revenue.payment_currency_count, 0) as payment_currency_count,
        -- Zero for a customer never charged; null when it was charged in several currencies. Money in minor
        -- units (bigint) and major units (numeric(28, 6)), cast outside the case for Postgres, which drops the
        -- numeric's scale from a case's type.
        cast(case when revenue.customer_id is null then 0 else revenue.total_paid end as bigint) as total_paid,
        cast(
            case when revenue.customer_id is null then 0 else revenue.total_paid_decimal end as {{ dbt.type_numeric() }}
        ) as total_paid_decimal,
        cast(case when revenue.customer_id is null then 0 else revenue.total_refunded end as bigint) as total_refunded,
        cast(
            case when revenue.customer_id is null then 0 else revenue.total_refunded_decimal end as {{ dbt.type_numeric() }}
        ) as total_refunded_decimal,
        coalesce(revenue.successful_payment_count, 0) as successful_payment_count,
        coalesce(revenue.failed_payment_count, 0) as failed_payment_count,
        -- Zero without MRR; null when the customer has MRR in several currencies. Major units.
        cast(
            case
                when mrr.customer_id is null then 0
                when mrr.mrr_currency_count = 1 then mrr.mrr
            end as {{ dbt.type_numeric() }}
        ) as current_mrr,
        customers.balance,
        customers.balance_decimal,

        -- booleans
        coalesce(customers.is_delinquent, false) as is_delinquent,
        customers.is_deleted,

        -- timestamps
        customers.created_at,
        revenue.first_payment_at,
        revenue.last_payment_at

    from customers
    left join revenue
        on customers.account_id = revenue.account_id
            and customers.customer_id = revenue.customer_id
    left join mrr
        on customers.account_id = mrr.account_id
            and customers.customer_id = mrr.customer_id

)

select * from final

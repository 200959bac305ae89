-- Everything analytics.daily_overview counts, per account, currency and day (reporting time zone) with any: the balance's money
-- (int_stripe__balance_days), charges that failed, customers created and disputes opened.

with

balance_days as (

    select * from {{ ref('int_stripe__balance_days') }}

),

home_currencies as (

    select * from {{ ref('int_stripe__account_home_currencies') }}

),

charges as (

    select * from {{ ref('stripe__charges') }}

),

customers as (

    select * from {{ ref('stripe__customers') }}

),

disputes as (

    select * from {{ ref('stripe__disputes') }}

),

balance_transactions as (

    select * from {{ ref('stripe__balance_transactions') }}

),

failed_payment_days as (

    -- Failed payments move no money: they count in the account's home currency, on the charge's day.
    select
        charges.account_id,
        coalesce(home_currencies.currency, charges.currency) as currency,
        {{ reporting_date_trunc('day', 'charges.created_at') }} as date_day,
        count(*) as failed_payments
    from charges
    left join home_currencies
        on charges.account_id = home_currencies.account_id
    where charges.status = 'failed'
    group by 1, 2, 3

),

new_customer_days as (

    -- Deleted customers that the ingester only knows as Stripe's stub have no creation time: not counted.
    select
        customers.account_id,
        coalesce(home_currencies.currency, customers.currency) as currency,
        {{ reporting_date_trunc('day', 'customers.created_at') }} as date_day,
        count(*) as new_customers
    from customers
    left join home_currencies
        on customers.account_id = home_currencies.account_id
    where customers.created_at is not null
    group by 1, 2, 3

),

dispute_days as (

    -- A dispute counts in the currency its charge settled in, on the day it was opened.
    select
        disputes.account_id,
        coalesce(charge_balance_transactions.currency, home_currencies.currency, disputes.currency) as currency,
        {{ reporting_date_trunc('day', 'disputes.created_at') }} as date_day,
        count(*) as disputes
    from disputes
    left join balance_transactions as charge_balance_transactions
        on disputes.account_id = charge_balance_transactions.account_id
            and disputes.charge_id = charge_balance_transactions.source_id
            and charge_balance_transactions.balance_transaction_type in ('charge', 'payment')
    left join home_currencies
        on disputes.account_id = home_currencies.account_id
    group by 1, 2, 3

),

activity as (

    select
        account_id,
        currency,
        date_day,
        gross_volume,
        gross_volume_decimal,
        refunds,
        refunds_decimal,
        adjustments,
        adjustments_decimal,
        fees,
        fees_decimal,
        net_volume,
        net_volume_decimal,
        payouts,
        payouts_decimal,
        successful_payments,
        0 as failed_payments,
        0 as new_customers,
        0 as disputes
    from balance_days
    union all
    select
        account_id,
        currency,
        date_day,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        failed_payments,
        0,
        0
    from failed_payment_days
    union all
    select
        account_id,
        currency,
        date_day,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        new_customers,
        0
    from new_customer_days
    union all
    select
        account_id,
        currency,
        date_day,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        disputes
    from dispute_days

),

final as (

    select
        account_id,
        currency,
        date_day,
        cast(sum(gross_volume) as bigint) as gross_volume,
        sum(gross_volume_decimal) as gross_volume_decimal,
        cast(sum(refunds) as bigint) as refunds,
        sum(refunds_decimal) as refunds_decimal,
        cast(sum(adjustments) as bigint) as adjustments,
        sum(adjustments_decimal) as adjustments_decimal,
        cast(sum(fees) as bigint) as fees,
        sum(fees_decimal) as fees_decimal,
        cast(sum(net_volume) as bigint) as net_volume,
        sum(net_volume_decimal) as net_volume_decimal,
        cast(sum(payouts) as bigint) as payouts,
        sum(payouts_decimal) as payouts_decimal,
        cast(sum(successful_payments) as bigint) as successful_payments,
        cast(sum(failed_payments) as bigint) as failed_payments,
        cast(sum(new_customers) as bigint) as new_customers,
        cast(sum(disputes) as bigint) as disputes
    from activity
    group by 1, 2, 3

)

select * from final

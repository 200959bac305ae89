-- The analysts' `analytics.daily_overview`: one row per account, currency and UTC day, the money that moved
-- through the account's balance that day (Fivetran's daily overview: sales are balance transactions of type
-- charge/payment, refunds refund/payment_refund, payouts dated by available_on) beside the day's failed
-- payments, sign-ups and disputes. Every day from the first activity in a currency to the account's last
-- load is a row, quiet days with zeros. Definitions in _analytics__models.yml.

with

balance_transactions as (

    select * from {{ ref('stripe__balance_transactions') }}

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

accounts as (

    select * from {{ ref('stripe__accounts') }}

),

day_numbers as (

    -- 1, 2, ... up to a hundred years of days, for the calendar below.
    {{ dbt.generate_series(36525) }}

),

account_ids as (

    select account_id from balance_transactions
    union
    select account_id from charges
    union
    select account_id from customers
    union
    select account_id from disputes

),

home_currencies as (

    -- Failed payments and sign-ups move no money, so they have no balance currency of their own: they count
    -- in the account's settlement currency (its default currency; without the account object, the first of
    -- its balance currencies), where the money would have landed.
    select
        account_ids.account_id,
        coalesce(accounts.default_currency, min(balance_transactions.currency)) as currency
    from account_ids
    left join accounts
        on accounts.account_id = account_ids.account_id
    left join balance_transactions
        on balance_transactions.account_id = account_ids.account_id
    group by account_ids.account_id, accounts.default_currency

),

classified_balance_transactions as (

    select
        account_id,
        currency,
        -- Payouts count on the day the money is available for them (Fivetran's convention), the rest on
        -- the day it happened.
        cast({{ dbt.date_trunc('day', "case when balance_transaction_type like 'payout%' then available_on_at else created_at end") }} as date) as date_day,
        case
            when balance_transaction_type in ('charge', 'payment') then 'sale'
            when balance_transaction_type in ('refund', 'payment_refund') then 'refund'
            when balance_transaction_type like 'payout%' then 'payout'
            -- Connect transfers move money between accounts, not to or from customers: in no column.
            when balance_transaction_type like '%transfer%' then 'transfer'
            else 'adjustment'
        end as activity,
        amount,
        amount_decimal,
        fee,
        fee_decimal,
        net,
        net_decimal
    from balance_transactions

),

balance_days as (

    select
        account_id,
        currency,
        date_day,
        sum(case when activity = 'sale' then amount else 0 end) as gross_volume,
        sum(case when activity = 'sale' then amount_decimal else 0 end) as gross_volume_decimal,
        -- Refunds, payouts: positive amounts that left the balance (Stripe's own amounts are negative).
        sum(case when activity = 'refund' then -amount else 0 end) as refunds,
        sum(case when activity = 'refund' then -amount_decimal else 0 end) as refunds_decimal,
        sum(case when activity = 'adjustment' then amount else 0 end) as adjustments,
        sum(case when activity = 'adjustment' then amount_decimal else 0 end) as adjustments_decimal,
        sum(case when activity in ('sale', 'refund', 'adjustment') then fee else 0 end) as fees,
        sum(case when activity in ('sale', 'refund', 'adjustment') then fee_decimal else 0 end) as fees_decimal,
        sum(case when activity in ('sale', 'refund', 'adjustment') then net else 0 end) as net_volume,
        sum(case when activity in ('sale', 'refund', 'adjustment') then net_decimal else 0 end) as net_volume_decimal,
        sum(case when activity = 'payout' then -amount else 0 end) as payouts,
        sum(case when activity = 'payout' then -amount_decimal else 0 end) as payouts_decimal,
        sum(case when activity = 'sale' then 1 else 0 end) as successful_payments,
        0 as failed_payments,
        0 as new_customers,
        0 as disputes
    from classified_balance_transactions
    group by account_id, currency, date_day

),

failed_payment_days as (

    select
        charges.account_id,
        coalesce(home_currencies.currency, charges.currency) as currency,
        cast({{ dbt.date_trunc('day', 'charges.created_at') }} as date) as date_day,
        count(*) as failed_payments
    from charges
    left join home_currencies
        on home_currencies.account_id = charges.account_id
    where charges.status = 'failed'
    group by 1, 2, 3

),

new_customer_days as (

    -- Deleted customers that the ingester only knows as Stripe's stub have no creation time: not counted.
    select
        customers.account_id,
        coalesce(home_currencies.currency, customers.currency) as currency,
        cast({{ dbt.date_trunc('day', 'customers.created_at') }} as date) as date_day,
        count(*) as new_customers
    from customers
    left join home_currencies
        on home_currencies.account_id = customers.account_id
    where customers.created_at is not null
    group by 1, 2, 3

),

dispute_days as (

    -- A dispute counts in the currency its charge settled in, on the day it was opened.
    select
        disputes.account_id,
        coalesce(charge_balance_transactions.currency, home_currencies.currency, disputes.currency) as currency,
        cast({{ dbt.date_trunc('day', 'disputes.created_at') }} as date) as date_day,
        count(*) as disputes
    from disputes
    left join balance_transactions as charge_balance_transactions
        on charge_balance_transactions.account_id = disputes.account_id
        and charge_balance_transactions.source_id = disputes.charge_id
        and charge_balance_transactions.balance_transaction_type in ('charge', 'payment')
    left join home_currencies
        on home_currencies.account_id = disputes.account_id
    group by 1, 2, 3

),

activity as (

    select * from balance_days
    union all
    select
        account_id, currency, date_day,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        failed_payments, 0, 0
    from failed_payment_days
    union all
    select
        account_id, currency, date_day,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, new_customers, 0
    from new_customer_days
    union all
    select
        account_id, currency, date_day,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, disputes
    from dispute_days

),

last_load_days as (

    -- The calendar runs to the day of the account's last load: later days are not known yet.
    select
        account_id,
        cast({{ dbt.date_trunc('day', 'max(synced_at)') }} as date) as date_day
    from (
        select account_id, synced_at from accounts
        union all
        select account_id, synced_at from balance_transactions
        union all
        select account_id, synced_at from charges
        union all
        select account_id, synced_at from customers
    ) as loads
    group by account_id

),

calendar_ranges as (

    select
        activity.account_id,
        activity.currency,
        min(activity.date_day) as first_day,
        max(activity.date_day) as last_activity_day
    from activity
    where activity.currency is not null
        and activity.date_day is not null
    group by activity.account_id, activity.currency

),

calendar as (

    select
        calendar_ranges.account_id,
        calendar_ranges.currency,
        cast({{ dbt.dateadd('day', 'cast(day_numbers.generated_number as integer) - 1', 'calendar_ranges.first_day') }} as date) as date_day
    from calendar_ranges
    left join last_load_days
        on last_load_days.account_id = calendar_ranges.account_id
    inner join day_numbers
        on cast(day_numbers.generated_number as integer) - 1 <= {{ dbt.datediff(
            'calendar_ranges.first_day',
            'coalesce(greatest(calendar_ranges.last_activity_day, last_load_days.date_day), calendar_ranges.last_activity_day)',
            'day'
        ) }}

),

daily_activity as (

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
    group by account_id, currency, date_day

),

final as (

    select
        -- the grain: account, day, currency
        calendar.account_id,
        calendar.date_day as date,
        calendar.currency,

        -- numerics
        coalesce(daily_activity.gross_volume, 0) as gross_volume,
        coalesce(daily_activity.gross_volume_decimal, 0) as gross_volume_decimal,
        coalesce(daily_activity.refunds, 0) as refunds,
        coalesce(daily_activity.refunds_decimal, 0) as refunds_decimal,
        coalesce(daily_activity.adjustments, 0) as adjustments,
        coalesce(daily_activity.adjustments_decimal, 0) as adjustments_decimal,
        coalesce(daily_activity.fees, 0) as fees,
        coalesce(daily_activity.fees_decimal, 0) as fees_decimal,
        coalesce(daily_activity.net_volume, 0) as net_volume,
        coalesce(daily_activity.net_volume_decimal, 0) as net_volume_decimal,
        coalesce(daily_activity.payouts, 0) as payouts,
        coalesce(daily_activity.payouts_decimal, 0) as payouts_decimal,
        coalesce(daily_activity.successful_payments, 0) as successful_payments,
        coalesce(daily_activity.failed_payments, 0) as failed_payments,
        coalesce(daily_activity.new_customers, 0) as new_customers,
        coalesce(daily_activity.disputes, 0) as disputes

    from calendar
    left join daily_activity
        on daily_activity.account_id = calendar.account_id
        and daily_activity.currency = calendar.currency
        and daily_activity.date_day = calendar.date_day

)

select * from final

-- The months MRR is known for: one row per account, currency and month, from the month of the account's
-- first subscription in that currency (trials included) to the month of mrr_as_of. Each month carries the
-- instant its MRR is evaluated at: the last second of the month, or mrr_as_of for the current month.
-- Built from a fixed series of 1,200 numbers (100 years of months), the same SQL on every warehouse.

with

subscriptions as (

    select * from {{ ref('int_stripe__subscription_status_periods') }}

),

all_subscriptions as (

    select * from {{ ref('stripe__subscriptions') }}

),

as_of as (

    select {{ mrr_as_of() }} as as_of_at

),

first_months as (

    -- Every subscription that ever started, counted or not, opens the history of its currency.
    select
        all_subscriptions.account_id,
        coalesce(subscriptions.currency, lower(all_subscriptions.currency)) as currency,
        cast({{ dbt.date_trunc('month', 'min(coalesce(all_subscriptions.started_at, all_subscriptions.created_at))') }} as date) as first_month
    from all_subscriptions
    left join subscriptions
        on all_subscriptions.account_id = subscriptions.account_id
            and all_subscriptions.subscription_id = subscriptions.subscription_id
    where coalesce(subscriptions.currency, all_subscriptions.currency) is not null
        and coalesce(all_subscriptions.started_at, all_subscriptions.created_at) is not null
    group by all_subscriptions.account_id, coalesce(subscriptions.currency, lower(all_subscriptions.currency))

),

month_numbers as (

    select generated_number - 1 as month_number
    from ({{ dbt.generate_series(1200) }}) as series

),

months as (

    select
        first_months.account_id,
        first_months.currency,
        cast({{ dbt.dateadd('month', 'month_numbers.month_number', 'first_months.first_month') }} as date) as month,
        as_of.as_of_at
    from first_months
    cross join as_of
    inner join month_numbers
        on month_numbers.month_number <= {{ dbt.datediff('first_months.first_month', 'as_of.as_of_at', 'month') }}

),

final as (

    select
        -- ids
        account_id,

        -- strings
        currency,

        -- dates
        month,

        -- timestamps
        case
            when {{ dbt.dateadd('second', -1, dbt.dateadd('month', 1, 'cast(month as ' ~ dbt.type_timestamp() ~ ')')) }} < as_of_at
                then {{ dbt.dateadd('second', -1, dbt.dateadd('month', 1, 'cast(month as ' ~ dbt.type_timestamp() ~ ')')) }}
            else as_of_at
        end as evaluated_at

    from months

)

select * from final

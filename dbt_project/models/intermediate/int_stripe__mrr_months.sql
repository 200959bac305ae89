-- The months MRR is known for: one row per account, currency and month, from the month of the account's
-- first subscription in that currency (trials included) to the month of mrr_as_of. Each month carries the
-- instant its MRR is evaluated at: the last second of the month, or mrr_as_of for the current month. Months
-- are those of the reporting time zone (var stripe_reporting_timezone, UTC by default): a month's last second
-- is its local last second, as a UTC timestamp like every instant it is compared with.
-- Built from a fixed series of 1,200 numbers (100 years of months), the same SQL on every warehouse.

{#- A month's last second: local wall time, back to UTC. -#}
{%- set month_end = from_reporting_time(
    dbt.dateadd('second', -1, dbt.dateadd('month', 1, 'cast(month as ' ~ dbt.type_timestamp() ~ ')'))
) %}

with

subscriptions as (

    select * from {{ ref('int_stripe__subscription_status_periods') }}

),

all_subscriptions as (

    select * from {{ ref('stripe__subscriptions') }}

),

as_of as (

    select
        as_of_at,
        {{ to_reporting_time('as_of_at') }} as local_as_of_at
    from (select {{ mrr_as_of() }} as as_of_at) as instant

),

first_months as (

    -- Every subscription that ever started, counted or not, opens the history of its currency.
    select
        all_subscriptions.account_id,
        coalesce(subscriptions.currency, lower(all_subscriptions.currency)) as currency,
        {{ reporting_date_trunc('month', 'min(coalesce(all_subscriptions.started_at, all_subscriptions.created_at))') }}
            as first_month
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
        on month_numbers.month_number <= {{ dbt.datediff('first_months.first_month', 'as_of.local_as_of_at', 'month') }}

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
            when {{ month_end }} < as_of_at then {{ month_end }}
            else as_of_at
        end as evaluated_at,
        -- The instant the current month is evaluated at: what every month's figures are as of.
        as_of_at,

        -- booleans
        -- The month not over at the as-of instant (in the reporting time zone): its figures still move.
        case when {{ month_end }} <= as_of_at then false else true end as is_partial_month

    from months

)

select * from final

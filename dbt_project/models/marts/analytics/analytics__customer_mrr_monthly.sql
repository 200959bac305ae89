-- analytics.customer_mrr_monthly: every customer's MRR per currency and month, and its movement.
-- A row for each month the customer has MRR, plus the month it churns (mrr = 0); the months at zero after a
-- churn have no row, until the customer returns (a reactivation row). Every change of a customer's MRR is
-- therefore on a row, so summing rows per month gives mrr_monthly exactly, and previous_mrr is read from the
-- month before (zero when it has no row), never from the previous row.

with

customer_months as (

    select * from {{ ref('int_stripe__customer_mrr_monthly') }}

),

months as (

    select * from {{ ref('int_stripe__mrr_months') }}

),

as_of as (

    -- The instant the figures are as of: the evaluation instant of the account's current month (the var
    -- mrr_as_of, by default the time of the run), the latest of its months.
    select
        account_id,
        max(evaluated_at) as as_of_at
    from months
    group by account_id

),

with_mrr as (

    select *
    from customer_months
    where mrr > 0

),

churn_months as (

    -- The month after a month with MRR in which the customer has none (up to the current month).
    select
        with_mrr.account_id,
        with_mrr.customer_id,
        with_mrr.currency,
        next_months.month
    from with_mrr
    inner join months as next_months
        on with_mrr.account_id = next_months.account_id
            and with_mrr.currency = next_months.currency
            and next_months.month = cast({{ dbt.dateadd('month', 1, 'with_mrr.month') }} as date)
    left join with_mrr as following
        on with_mrr.account_id = following.account_id
            and with_mrr.customer_id = following.customer_id
            and with_mrr.currency = following.currency
            and next_months.month = following.month
    where following.customer_id is null

),

customer_rows as (

    select
        account_id,
        customer_id,
        currency,
        month,
        mrr,
        contract_mrr
    from with_mrr

    union all

    -- A churn month keeps the contract value still counted then, if any (a discount taking all of it).
    select
        churn_months.account_id,
        churn_months.customer_id,
        churn_months.currency,
        churn_months.month,
        cast(0 as {{ dbt.type_numeric() }}) as mrr,
        coalesce(customer_months.contract_mrr, cast(0 as {{ dbt.type_numeric() }})) as contract_mrr
    from churn_months
    left join customer_months
        on churn_months.account_id = customer_months.account_id
            and churn_months.customer_id = customer_months.customer_id
            and churn_months.currency = customer_months.currency
            and churn_months.month = customer_months.month

),

with_previous as (

    select
        customer_rows.*,
        coalesce(previous_months.mrr, cast(0 as {{ dbt.type_numeric() }})) as previous_mrr,
        min(case when customer_rows.mrr > 0 then customer_rows.month end) over (
            partition by customer_rows.account_id, customer_rows.customer_id, customer_rows.currency
        ) as first_month_with_mrr,
        months.is_partial_month,
        as_of.as_of_at
    from customer_rows
    left join with_mrr as previous_months
        on customer_rows.account_id = previous_months.account_id
            and customer_rows.customer_id = previous_months.customer_id
            and customer_rows.currency = previous_months.currency
            and previous_months.month = cast({{ dbt.dateadd('month', -1, 'customer_rows.month') }} as date)
    left join months
        on customer_rows.account_id = months.account_id
            and customer_rows.currency = months.currency
            and customer_rows.month = months.month
    left join as_of
        on customer_rows.account_id = as_of.account_id

),

final as (

    select
        -- ids
        account_id,
        customer_id,

        -- strings
        currency,

        -- dates
        month,

        -- numerics
        mrr,
        contract_mrr,
        previous_mrr,
        cast(mrr - previous_mrr as {{ dbt.type_numeric() }}) as mrr_change,

        -- movement, the contract's last column. Rules in the mrr_definition's order: a return after months at
        -- zero is a reactivation, never an expansion.
        case
            when previous_mrr = 0 and mrr > 0 and month = first_month_with_mrr then 'new'
            when previous_mrr = 0 and mrr > 0 then 'reactivation'
            when previous_mrr > 0 and mrr = 0 then 'churn'
            when mrr > previous_mrr then 'expansion'
            when mrr < previous_mrr then 'contraction'
            else 'unchanged'
        end as movement,

        -- as of: the last columns, after the contract's. A month evaluated before its last second is the
        -- current one, evaluated at as_of_at: its figures still move until the month is over.
        is_partial_month,
        as_of_at

    from with_previous

)

select * from final

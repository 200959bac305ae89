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
        ) as first_month_with_mrr
    from customer_rows
    left join with_mrr as previous_months
        on customer_rows.account_id = previous_months.account_id
            and customer_rows.customer_id = previous_months.customer_id
            and customer_rows.currency = previous_months.currency
            and previous_months.month = cast({{ dbt.dateadd('month', -1, 'customer_rows.month') }} as date)

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

        -- movement, the contract's last column. Rules in mrr.md's order: a return after months at zero is a
        -- reactivation, never an expansion.
        case
            when previous_mrr = 0 and mrr > 0 and month = first_month_with_mrr then 'new'
            when previous_mrr = 0 and mrr > 0 then 'reactivation'
            when previous_mrr > 0 and mrr = 0 then 'churn'
            when mrr > previous_mrr then 'expansion'
            when mrr < previous_mrr then 'contraction'
            else 'unchanged'
        end as movement

    from with_previous

)

select * from final

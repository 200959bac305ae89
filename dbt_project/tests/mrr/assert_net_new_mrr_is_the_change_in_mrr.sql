-- net_new_mrr (new + reactivation + expansion − contraction − churned) is the change of total MRR from the
-- month before, in every month of every account and currency, and the months follow each other without gaps
-- (so "the month before" is the previous row). The first month starts from zero. Returns the offending months;
-- 1e-6 of slack for the numeric rounding of each warehouse.

with

mrr_monthly as (

    select * from {{ ref('analytics__mrr_monthly') }}

),

with_previous as (

    select
        account_id,
        currency,
        month,
        mrr,
        net_new_mrr,
        lag(mrr) over (partition by account_id, currency order by month) as previous_mrr,
        lag(month) over (partition by account_id, currency order by month) as previous_month
    from mrr_monthly

)

select *
from with_previous
where abs(net_new_mrr - (mrr - coalesce(previous_mrr, 0))) > 0.000001
    or previous_month is not null
    and previous_month <> cast({{ dbt.dateadd('month', -1, 'month') }} as date)

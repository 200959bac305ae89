-- Gross revenue retention counts each customer at most at what it had 12 months before, so it lies between 0
-- and 1 and never above net revenue retention (which adds expansion); both exist exactly when there was MRR
-- 12 months before. Returns the months out of bounds.

with

retention as (

    select * from {{ ref('analytics__revenue_retention_monthly') }}

)

select *
from retention
where gross_revenue_retention_12m < 0
    or gross_revenue_retention_12m > 1
    or net_revenue_retention_12m < 0
    or gross_revenue_retention_12m > net_revenue_retention_12m
    or (net_revenue_retention_12m is null) <> (gross_revenue_retention_12m is null)
    or (net_revenue_retention_12m is null) <> (coalesce(base_mrr, 0) = 0)
    or base_retained_mrr > base_mrr
    or base_retained_mrr > base_current_mrr

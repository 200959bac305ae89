-- analytics.dunning_invoices holds only attempted renewals: per account and currency, no more failed renewals than
-- renewal invoices with a payment attempt, and dunning_monthly's outcomes add up to its failed renewals,
-- recovering no more than failed. Returns the account-currencies or rows that do not.
{{ config(meta={'dagster': {'ref': {'name': 'analytics__dunning_monthly'}}}) }}

with

renewals as (

    select
        account_id,
        currency,
        count(*) as attempted_renewals
    from {{ ref('stripe__invoices') }}
    where billing_reason = 'subscription_cycle'
        and attempt_count > 0
        and not is_deleted
    group by account_id, currency

),

dunning_rows as (

    select * from {{ ref('analytics__dunning_monthly') }}

),

dunning as (

    select
        account_id,
        currency,
        sum(failed_renewals) as failed_renewals
    from dunning_rows
    group by account_id, currency

),

dunning_invoices as (

    select
        account_id,
        currency,
        count(*) as failed_renewals
    from {{ ref('analytics__dunning_invoices') }}
    group by account_id, currency

)

select
    dunning.account_id,
    dunning.currency,
    cast(null as date) as month,
    dunning.failed_renewals,
    renewals.attempted_renewals
from dunning
left join renewals
    on dunning.account_id = renewals.account_id
        and dunning.currency = renewals.currency
left join dunning_invoices
    on dunning.account_id = dunning_invoices.account_id
        and dunning.currency = dunning_invoices.currency
where renewals.attempted_renewals is null
    or dunning.failed_renewals > renewals.attempted_renewals
    or dunning_invoices.failed_renewals is null
    or dunning.failed_renewals <> dunning_invoices.failed_renewals

union all

select
    account_id,
    currency,
    month,
    failed_renewals,
    null as attempted_renewals
from dunning_rows
where recovered_renewals + subscription_canceled_renewals + uncollectible_renewals + void_renewals
    + open_renewals <> failed_renewals
    or recovered_amount > failed_amount

-- The clean `stripe.refunds` table. dbt model names are unique project-wide and the analytics schema has
-- tables of the same plain names, so the model is stripe__refunds and the alias names the table.
{{ config(alias='refunds') }}

with

refunds as (

    select * from {{ ref('stg_stripe__refunds') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from refunds

)

select * from final

-- The clean `stripe.payouts` table. dbt model names are unique project-wide and the analytics schema has
-- tables of the same plain names, so the model is stripe__payouts and the alias names the table.
{{ config(alias='payouts') }}

with

payouts as (

    select * from {{ ref('stg_stripe__payouts') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from payouts

)

select * from final

-- The clean `stripe.plans` table. dbt model names are unique project-wide and the analytics schema has
-- tables of the same plain names, so the model is stripe__plans and the alias names the table.
{{ config(alias='plans') }}

with

plans as (

    select * from {{ ref('stg_stripe__plans') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from plans

)

select * from final

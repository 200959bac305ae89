-- The clean `stripe.prices` table. dbt model names are unique project-wide and the analytics schema has
-- tables of the same plain names, so the model is stripe__prices and the alias names the table.
{{ config(alias='prices') }}

with

prices as (

    select * from {{ ref('stg_stripe__prices') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from prices

)

select * from final

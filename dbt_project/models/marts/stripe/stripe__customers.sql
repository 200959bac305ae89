-- The clean `stripe.customers` table. dbt model names are unique project-wide and the analytics schema has
-- tables of the same plain names, so the model is stripe__customers and the alias names the table.
{{ config(alias='customers') }}

with

customers as (

    select * from {{ ref('stg_stripe__customers') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from customers

)

select * from final

-- The clean `stripe.invoices` table. dbt model names are unique project-wide and the analytics schema has
-- tables of the same plain names, so the model is stripe__invoices and the alias names the table.
{{ config(alias='invoices') }}

with

invoices as (

    select * from {{ ref('stg_stripe__invoices') }}

),

final as (

    -- Deleted objects stay, flagged with is_deleted, so history and foreign keys keep their rows.
    select * from invoices

)

select * from final

"""The database refuses to change a trading agreement's or purchase order's currency once it has ledger rows."""

from django.db import migrations

# (table, its ledger tables and their foreign key column)
HOLDERS = [
    (
        "spending_limits_tradingagreement",
        [("spending_limits_tradingagreementpurchase", "trading_agreement_id"),
         ("spending_limits_tradingagreementrefund", "trading_agreement_id")],
    ),
    (
        "spending_limits_purchaseorder",
        [("spending_limits_purchaseorderpurchase", "purchase_order_id"),
         ("spending_limits_purchaseorderrefund", "purchase_order_id")],
    ),
]
MESSAGE = "currency cannot change once the limit has ledger rows"


def _used(ledgers, holder_ref: str) -> str:
    return " OR ".join(f"EXISTS (SELECT 1 FROM {table} WHERE {column} = {holder_ref})" for table, column in ledgers)


def _postgresql(table: str, ledgers) -> tuple[list[str], list[str]]:
    function = f"{table}_currency_frozen"
    create_function = f"""
        CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
        BEGIN
            IF {_used(ledgers, "OLD.id")} THEN
                RAISE EXCEPTION '%: {MESSAGE}', OLD.number USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
    """
    create_trigger = f"""
        CREATE TRIGGER {function} BEFORE UPDATE OF currency_id ON {table}
            FOR EACH ROW WHEN (OLD.currency_id IS DISTINCT FROM NEW.currency_id)
            EXECUTE FUNCTION {function}();
    """
    drop = [f"DROP TRIGGER IF EXISTS {function} ON {table}", f"DROP FUNCTION IF EXISTS {function}()"]
    return [create_function, create_trigger], drop


def _sqlite(table: str, ledgers) -> tuple[list[str], list[str]]:
    trigger = f"{table}_currency_frozen"
    create = f"""
        CREATE TRIGGER {trigger} BEFORE UPDATE OF currency_id ON {table}
        FOR EACH ROW WHEN OLD.currency_id IS NOT NEW.currency_id AND ({_used(ledgers, "OLD.id")})
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;
    """
    return [create], [f"DROP TRIGGER IF EXISTS {trigger}"]


BUILDERS = {"postgresql": _postgresql, "sqlite": _sqlite}


def _run(schema_editor, index: int) -> None:
    build = BUILDERS.get(schema_editor.connection.vendor)
    if build is None:
        return  # another database: the service check alone guards the currency
    for table, ledgers in HOLDERS:
        for statement in build(table, ledgers)[index]:
            schema_editor.execute(statement, params=None)


def forwards(apps, schema_editor):
    _run(schema_editor, 0)


def backwards(apps, schema_editor):
    _run(schema_editor, 1)


class Migration(migrations.Migration):
    dependencies = [("spending_limits", "0003_return_refunds")]

    operations = [migrations.RunPython(forwards, backwards)]

"""The pure refund-policy rules: facts in, a decision out.

Nothing here reads the database or knows a Django model: the state machine, the admin, the portal,
the simulator, the backtest and the e-mails all call the same functions with the facts they gathered.
"""

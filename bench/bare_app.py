"""The bare stack's limit for a booking, for bench/booking.py: Flask + Flask-SQLAlchemy on the same
database and server, one endpoint that does what a booking must do at the least — check the bearer
token (by its hash, in the application's own token table), lock the slot row, check and raise its
counter, insert a row, commit — and nothing else (no validation, no rules, no outbox).

    DATABASE_URL=postgresql+psycopg://… gunicorn -w 2 bench.bare_app:app
"""

from __future__ import annotations

import hashlib
import os

from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True, "hide_parameters": True}
db = SQLAlchemy(app)


@app.post("/bare/bookings")
def book():
    raw = request.headers.get("Authorization", "").partition(" ")[2]
    digest = hashlib.sha256(raw.encode()).hexdigest()
    user_id = db.session.execute(text("SELECT user_id FROM api_tokens WHERE token_hash = :h AND revoked_dt IS NULL"),
                                 {"h": digest}).scalar()
    if user_id is None:
        return jsonify(error="unauthorized"), 401
    body = request.get_json(silent=True) or {}
    slot = db.session.execute(text("SELECT id, booked, capacity FROM bench_bare_slots WHERE id = :id FOR UPDATE"),
                              {"id": int(body.get("slot_id", 0))}).first()
    if slot is None:
        return jsonify(error="not_found"), 404
    if slot.booked >= slot.capacity:
        db.session.rollback()
        return jsonify(error="full"), 409
    db.session.execute(text("UPDATE bench_bare_slots SET booked = booked + 1 WHERE id = :id"), {"id": slot.id})
    new_id = db.session.execute(
        text("INSERT INTO bench_bare_bookings (slot_id, user_id, case_ref, question) VALUES (:s, :u, :c, :q) "
             "RETURNING id"),
        {"s": slot.id, "u": user_id, "c": body.get("case_ref", ""), "q": body.get("question", "")}).scalar()
    db.session.commit()
    return jsonify(id=new_id, slot_id=slot.id), 201


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5099")), threaded=True)

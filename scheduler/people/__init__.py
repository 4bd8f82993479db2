"""Units, people, roles, expertise areas; sign-in and the user's profile."""


def init_app(app) -> None:
    from .views import bp, register_nav

    app.register_blueprint(bp)
    register_nav(app)

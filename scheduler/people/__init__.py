"""Units, people, roles, expertise areas; sign-in and the user's profile."""


def init_app(app) -> None:
    from .access_log_views import init_app as access_log_init
    from .admin import init_app as admin_init
    from .entra import init_app as entra_init
    from .views import bp, register_nav

    app.register_blueprint(bp)
    register_nav(app)
    admin_init(app)
    entra_init(app)
    access_log_init(app)

from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("", views.plans, name="plans"),
    path("price/", views.price, name="price"),
    path("change/", views.change, name="change"),
    path("address/", views.address, name="address"),
    path("invoices/", views.invoices, name="invoices"),
    path("invoices/<int:number>/", views.invoice, name="invoice"),
    path("invoices/<int:number>/pdf/", views.invoice_download, name="invoice_pdf"),
    path("checkout/<uuid:token>/", views.checkout, name="checkout"),
    path("cancel/", views.cancel, name="cancel"),
    path("payment-method/", views.payment_method, name="payment_method"),
    path("webhooks/stripe/", views.stripe_webhook, name="stripe_webhook"),
    path("webhooks/paypal/", views.paypal_webhook, name="paypal_webhook"),
]

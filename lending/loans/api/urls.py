"""Mounted at /api/v1/ through ``lending.api_urls``."""

from django.urls import path

from lending.loans.api import views

urlpatterns = [
    path("credit-lines/<int:pk>/drawdowns/", views.DrawdownView.as_view(), name="line-drawdown"),
    path("loans/", views.LoanListView.as_view(), name="loans"),
    path("loans/<int:pk>/", views.LoanDetailView.as_view(), name="loan"),
    path("loans/<int:pk>/quote/", views.RepaymentQuoteView.as_view(), name="loan-quote"),
    path("loans/<int:pk>/repayments/", views.RepaymentView.as_view(), name="loan-repayments"),
]

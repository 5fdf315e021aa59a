from django.http import HttpResponse
from django.urls import path


def home(request):
    """Who the request is logged in as: what a functional test checks."""
    if request.user.is_authenticated:
        return HttpResponse(f"Logged in as {request.user.email}\n")
    return HttpResponse("Not logged in\n")


urlpatterns = [path("", home)]

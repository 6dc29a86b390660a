"""Endpoints called by machines, not people: the content pipeline's confirmation webhook."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tenants import pipelinehook


@csrf_exempt  # signed by the tenant's key instead; no session, no cookie
@require_POST
def pipeline_confirmation(request):
    answer = pipelinehook.receive(
        request.body,
        request.headers.get(pipelinehook.TIMESTAMP_HEADER, ""),
        request.headers.get(pipelinehook.SIGNATURE_HEADER, ""),
    )
    return JsonResponse({"detail": answer.message}, status=answer.status)

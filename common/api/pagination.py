from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def paginated(serializer_class):
    """The schema of a page of ``serializer_class`` as ``StandardPagination`` answers it, for an
    ``APIView`` that paginates by hand (drf-spectacular wraps only generic list views)."""
    from rest_framework import serializers

    return type(
        f"Paginated{serializer_class.__name__.removesuffix('Serializer')}List",
        (serializers.Serializer,),
        {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer_class(many=True),
        },
    )

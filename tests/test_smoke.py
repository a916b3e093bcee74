def test_root_redirects_to_album_list(client):
    """`/` sends visitors to the album list."""
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/catalog/albums/"

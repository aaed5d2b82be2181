"""A walk through the Synapse SDK against any backend.

``make demo`` runs it against a local backend seeded with demo data. To run it against a
real backend, set SYNAPSE_BASE_URL and SYNAPSE_ACCESS_TOKEN and run
``python examples/quickstart.py``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from synapse import Client, ClientError, NotFoundError


def step(title: str) -> None:
    print(f"\n== {title}")


def main() -> None:
    with Client() as client:  # SYNAPSE_BASE_URL and SYNAPSE_ACCESS_TOKEN
        print(f"Connected: {client!r}")

        step("Projects")
        projects = client.request("GET", "projects/")
        for project in projects["results"]:
            print(f"  #{project['id']} {project['title']}")
        project_id = projects["results"][0]["id"]

        step("Tasks, page by page")
        page = client.request("GET", "sdk/tasks/", params={"project": project_id, "page_size": 5})
        print(f"  {page['count']} tasks in project #{project_id}")
        pages = 0
        while page:
            pages += 1
            print(f"  page {pages}: tasks {[t['id'] for t in page['results']]}")
            page = client.request("GET", page["next"]) if page["next"] else None

        step("Annotate a task")
        task_id = client.request("GET", "sdk/tasks/", params={"project": project_id})["results"][0][
            "id"
        ]
        annotation = {"boxes": [{"class": "car", "xywh": [12, 30, 100, 60]}]}
        task = client.request(
            "PUT",
            f"tasks/{task_id}/annotate_task_data/",
            data={"action": "submit", "data": annotation},
        )
        print(f"  task #{task['id']} now holds {task['data']}")

        step("Run a plugin and follow its job")
        job = client.request("POST", "plugins/yolo-trainer/run/", data={"action": "train"})
        while job["status"] not in ("SUCCEEDED", "FAILED", "STOPPED"):
            print(f"  job {job['id']}: {job['status']}")
            time.sleep(0.3)
            job = client.request("GET", f"jobs/{job['id']}/")
        print(f"  job {job['id']}: {job['status']}")
        for line in client.request("GET", f"jobs/{job['id']}/console_logs/")["logs"]:
            print(f"    {line}")

        step("Storages")
        for storage in client.request("GET", "storages/")["results"]:
            print(f"  #{storage['id']} {storage['name']} ({storage['provider']})")

        step("Upload a file")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "notes.txt"
            path.write_text("hello from the quickstart\n")
            data_file = client.request("POST", "data_files/", files={"file": path})
            print(f"  data file #{data_file['id']} checksum {data_file['checksum']}")

        step("Errors are typed")
        try:
            client.request("GET", "projects/999999/")
        except NotFoundError as error:
            print(f"  {type(error).__name__}: {error}")
        except ClientError as error:  # pragma: no cover - a real backend may answer otherwise
            print(f"  {type(error).__name__}: {error}")


if __name__ == "__main__":
    main()

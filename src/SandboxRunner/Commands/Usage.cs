using SandboxRunner.Host.Composition;

namespace SandboxRunner.Host.Commands;

internal static class Usage
{
    public static string For(string verb) => verb switch
    {
        "run" => $$"""
            usage: sandbox-runner run TASKS_FILE [--junit FILE] [--markdown FILE] [--json] [--apply]
                                     [--run-id ID] [--base-ref REF] [--concurrency N] [--resource-policy P] [--dry-run]
                                     [--repo PATH] [--verbose]

            Runs the tasks of TASKS_FILE (JSON: the arguments of the MCP tool run_codex_tasks, i.e. an object with
            "tasks" [{task_id, prompt, allowed_paths?, allowed_commands?, timeout_sec?, environment?, verify?, verify_timeout_sec?,
            verify_inputs?, attempts?}], "run_id"?, "base_ref"?, "concurrency"?, "resource_policy"?, "dry_run"?, "environment"?, "verify"?,
            "verify_timeout_sec"?, "verify_inputs"?; or just the array of tasks) with the repository's
            .mcp-codex.json, as the server would: results in .codex-runs/<run_id>/, trees on sandbox/<run_id>/<task_id>.
            Options given here override the file's fields. Progress goes to stderr: a table on a terminal, timestamped
            lines otherwise.

              --junit FILE       JUnit XML: one testcase per task in one testsuite; failures carry notes and a log tail
              --markdown FILE    a summary table (also appended to $GITHUB_STEP_SUMMARY when it is set)
              --json             print the run result to stdout exactly as run_codex_tasks returns it
              --apply            apply each successful task to the working tree and index (as apply_codex_result),
                                 in task order, stopping at the first that does not apply cleanly (it changes nothing)

            Ctrl-C (or SIGTERM) cancels the run and keeps each task's work as cancelled, then exits 130; a second
            Ctrl-C stops waiting for the teardown but still removes the run's containers by label. A run stopped by
            `sandbox-runner cancel` from another process writes its reports and exits 1 (its tasks are cancelled).

            {{ExitCodes.Text}}
            """,
        "runs" => """
            usage: sandbox-runner runs [--json] [--repo PATH]

            Lists the repository's runs, newest first (as list_codex_runs). Exit 0.
            """,
        "show" => """
            usage: sandbox-runner show RUN [TASK] [--json] [--repo PATH]

            A run's status and tasks (as get_codex_run), or one task's result: status, summary, changed files,
            violations, notes, the commands the agent ran with the end of each one's output, the verification (each
            verify command, its exit code and output's end, the changed inputs), the attempts, and where its patch and
            branch are. Exit 0, 2 for an unknown run or task.
            """,
        "apply" => """
            usage: sandbox-runner apply RUN TASK [--attempt K] [--json] [--repo PATH]

            Brings a finished task's branch into the working tree and index like `git cherry-pick --no-commit`
            (as apply_codex_result). For a task run with attempts: the best attempt, or attempt K with --attempt.
            On a conflict, or local changes in a path it would write, it changes nothing and lists the paths.
            Exit 0 applied, 1 refused, 2 unknown run, task or attempt, or a task that broke a policy.
            """,
        "cancel" => """
            usage: sandbox-runner cancel RUN [--wait SECONDS] [--json] [--repo PATH]

            Cancels a run whichever process runs it (another terminal's `run`, an MCP server): it asks the owner
            through .codex-runs/RUN/cancel-requested and waits up to --wait seconds (default 60) for it to tear down,
            each task's work kept as cancelled. If the owner is gone, its containers are removed by label and its
            task trees recovered here; if it does not answer in time, its containers are removed by label.
            Exit 0 cancelled (or not running), 2 unknown run.
            """,
        "doctor" => """
            usage: sandbox-runner doctor [--json] [--repo PATH]

            Checks Docker, the images, the repository, auth and the config (as sandbox_doctor), each with a fix.
            Exit 0 when every check passes or only warns, 3 otherwise.
            """,
        "image ls" => """
            usage: sandbox-runner image ls [--json] [--repo PATH]

            Lists the images the runner built (found by their labels): tag, role, size, age, containers using
            them, and whether the repository's current config uses them. Exit 0, 3 Docker unreachable.
            """,
        "image prune" => """
            usage: sandbox-runner image prune [--all] [--dry-run] [--json] [--repo PATH]

            Removes runner images no container uses, keeping the current config's and other repositories'
            (--all removes every unused runner image). Never touches an image the runner did not build.
            --dry-run says what would go. Exit 0, 3 Docker unreachable.
            """,
        "image build" => """
            usage: sandbox-runner image build [--dry-run] [--repo PATH]

            Builds the task image (Dockerfile.codex, for the repository's codex_version) and the egress proxy
            image when they are missing, as the first run would; prints their tags, one a line (a configured
            "image" is printed as it is, never built). --dry-run only prints the tags, without asking Docker: a
            pipeline's image cache key, and the arguments of `docker save`. Exit 0, 2 bad config, 3 build failed.
            """,
        _ => $$"""
            usage: sandbox-runner [--repo PATH] [--verbose]           serve MCP over stdio (what MCP clients start)
                   sandbox-runner COMMAND [ARGS] [--repo PATH] [--verbose]

            Each Codex task runs in its own Docker container on its own checkout of the git repository at PATH
            (default: the current directory).

            commands:
              run TASKS_FILE     run tasks, with live progress, reports (--junit, --markdown, --json) and --apply
              runs               list the runs
              show RUN [TASK]    a run, or one task's result
              apply RUN TASK     bring a task's change (its best attempt's, or --attempt K) into the working tree
              cancel RUN         cancel a run, whichever process runs it
              doctor             check Docker, images, repository, auth and config
              image build        build the task image and the egress proxy image when missing; prints their tags and the
                                 environments' images (--dry-run: only prints them)
              image ls           list the images the runner built, with size and use
              image prune        remove unused runner images (--all, --dry-run)

            `sandbox-runner COMMAND --help` tells more.

            {{ExitCodes.Text}}
            """,
    };
}

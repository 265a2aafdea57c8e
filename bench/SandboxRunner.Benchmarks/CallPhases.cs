namespace SandboxRunner.Benchmarks;

/// <summary>
/// One runner run split into rows in call order: the engine calls (by method and container role) and git
/// calls it made, and the time no call was in flight, before and after the task container's create.
/// </summary>
internal static class CallPhases
{
    public static void Add(ResultTable table, long start, long end, IReadOnlyList<CallEvent> dockerCalls, IReadOnlyList<CallEvent> gitCalls)
    {
        // Only the calls this run began: a call of an earlier run's background work (a spare egress gateway's attach, a
        // closed site's removals) that ends during this one is recorded when it ends, and is none of this run's time.
        dockerCalls = dockerCalls.Where(c => c.Start >= start).ToList();

        // A run whose task container was never waited for has no split to show (it failed before, and said so).
        if (dockerCalls.LastOrDefault(c => c.Name == DockerCalls.Wait)?.Container is not { } taskContainer)
        {
            return;
        }

        var taskCreate = dockerCalls.Single(c => c.Name == DockerCalls.Create && c.Container == taskContainer);
        var roles = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var created in dockerCalls.Where(c => c.Name == DockerCalls.Create && c.Container is not null).OrderBy(c => c.Start))
        {
            roles[created.Container!] = created.Container == taskContainer ? "task" : $"aux {roles.Count(r => r.Value != "task") + 1}";
        }

        // Calls already in flight when the runner began waiting for the task container (its log follower) run
        // alongside the container rather than before or after it: left out, the Wait row covers that time.
        var wait = dockerCalls.Last(c => c.Name == DockerCalls.Wait);
        var calls = dockerCalls
            .Where(c => c == wait || !(c.Start <= wait.Start && c.End > wait.Start))
            .Select(c => (Call: c, Name: EngineLabel(c, roles)))
            .Concat(gitCalls.Select(c => (Call: c, Name: Timing.GitLabel(c.Name))))
            .OrderBy(c => c.Call.Start)
            .ToList();
        var all = calls.Select(c => c.Call).ToList();

        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var before = true;
        foreach (var (call, name) in calls)
        {
            if (before && call.Start >= taskCreate.Start)
            {
                before = false;
                table.Row("outside-before", "outside calls, before the task container's create").Add(Timing.Outside(all, start, taskCreate.Start));
            }

            var n = seen[name] = seen.GetValueOrDefault(name) + 1;
            table.Row($"{name}#{n}", n == 1 ? name : $"{name} ({n})").Add(call.Ms);
        }

        table.Row("outside-after", "outside calls, from the task container's create on").Add(Timing.Outside(all, taskCreate.Start, end));
        table.Row("total", "= end to end").Add(Timing.Ms(start, end));
    }

    private static string EngineLabel(CallEvent call, Dictionary<string, string> roles)
    {
        if (call.Container is not { } id || !roles.TryGetValue(id, out var role))
        {
            return $"engine: {call.Name}";
        }

        return call.Name == DockerCalls.Wait && role == "task" ? $"engine: {call.Name} (task container runs)" : $"engine: {call.Name} ({role})";
    }
}

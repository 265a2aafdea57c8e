using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Policy;
using SandboxRunner.Verification;

namespace SandboxRunner.Runs;

/// <summary>
/// Turns harvested facts and a task's policy into its status, violations and notes. A pure function:
/// the same facts give the same verdict, for a task that just ended and for one recovered after a crash
/// alike. Whatever could not be read or judged is a violation, never a pass.
/// </summary>
public static class Judge
{
    public static Judgement Evaluate(TaskFacts facts, TaskPolicy policy)
    {
        var violations = Violations(facts, policy);
        var failing = violations.Count(v => Fails(v, policy));
        var transcript = facts.Transcript;
        var status = facts.End switch
        {
            TaskEnd.Cancelled or TaskEnd.Interrupted => TaskStatus.Cancelled,
            TaskEnd.TimedOut => TaskStatus.Timeout,
            TaskEnd.Exited when facts.VerificationCancelled => TaskStatus.Cancelled,
            TaskEnd.Exited when facts.ExitCode == 0 && transcript.TurnFailure is null && failing == 0 && Verified(facts, policy) => TaskStatus.Success,
            _ => TaskStatus.Failed,
        };
        var clean = failing == 0;
        return new Judgement(
            status,
            violations,
            Notes(facts, policy, violations, failing),
            facts.OnBase.Applies && clean,
            (facts.OnHead ?? facts.OnBase).Applies && clean);
    }

    /// <summary>
    /// Whether a violation fails the task. Under <c>command_policy: audit</c> the command audit only reports, except
    /// for a denied command, and for a command it could not read while there are denied commands it might hide.
    /// </summary>
    private static bool Fails(Violation violation, TaskPolicy policy) =>
        policy.CommandMode == CommandPolicyMode.Enforce || violation.Kind switch
        {
            ViolationKind.CommandNotAllowed => false,
            ViolationKind.Unjudgeable when violation.Command is not null => policy.DeniedCommands.Count > 0,
            _ => true,
        };

    /// <summary>A task with verify commands succeeds only on the runner's own checks: what the agent said is not enough.</summary>
    private static bool Verified(TaskFacts facts, TaskPolicy policy) =>
        !policy.Verify || facts.Verification?.Status == Verification.VerificationStatus.Passed;

    private static List<Violation> Violations(TaskFacts facts, TaskPolicy policy)
    {
        var changes = facts.Changes;
        var violations = new List<Violation>();
        violations.AddRange(new PathPolicy(policy.AllowedPaths).Check(changes.Files, facts.ReadLink));
        violations.AddRange(facts.GitSettingsChanged.Select(path =>
            Violation.ForPath(ViolationKind.GitDirectory, path, "git settings of the task's repository changed; they are never carried out of the sandbox")));
        violations.AddRange(changes.Entries.Where(e => e.IsGitlink).Select(e =>
            Violation.ForPath(ViolationKind.NestedRepository, e.Path, "is a nested git repository; its content cannot be part of the patch")));
        violations.AddRange(changes.Findings.Select(f => f.Kind switch
        {
            TreeFindingKind.SpecialFile => Violation.ForPath(ViolationKind.SpecialFile, f.Path, f.Detail),
            TreeFindingKind.UnsafeName => Violation.ForPath(ViolationKind.UnsafePath, f.Path, f.Detail),
            _ => Violation.ForPath(ViolationKind.LimitExceeded, f.Path, f.Detail),
        }));
        if (facts.LimitPassed is { } limit)
        {
            violations.Add(Violation.ForPath(ViolationKind.LimitExceeded, "(task)", $"passed {limit} while it ran and was stopped"));
        }

        if (changes.OverLimit is { } over)
        {
            violations.Add(Violation.ForPath(ViolationKind.LimitExceeded, "(tree)", changes.PatchFile is null && changes.Entries.Count == 0
                ? $"the tree passed {over}; it was not harvested"
                : $"the patch passed {over}; it is not kept as a file, the tree is on the branch"));
        }

        var transcript = facts.Transcript;
        if (policy.AuditCommands)
        {
            violations.AddRange(new CommandPolicy(policy.AllowedCommands, policy.DeniedCommands).Check(transcript.Commands.Select(c => c.Cmd)));
            if (transcript.CommandsNotKept > 0)
            {
                violations.Add(Violation.ForCommand(ViolationKind.Unjudgeable, "(commands)",
                    $"{transcript.CommandsNotKept} command(s) past the audit's bounds ({CodexTranscript.MaxCommands} commands, {CodexTranscript.MaxCommandChars} characters) were not audited"));
            }

            if (transcript.UnparsedLines > 0)
            {
                violations.Add(Violation.ForCommand(ViolationKind.Unjudgeable, "(codex output)",
                    $"{transcript.UnparsedLines} line(s) of Codex's stdout were not JSONL events, so the commands they may have reported were not audited"));
            }

            if (facts.OversizedLines > 0)
            {
                violations.Add(Violation.ForCommand(ViolationKind.Unjudgeable, "(codex output)",
                    $"{facts.OversizedLines} output line(s) were too long to read, so the commands they may have reported were not audited"));
            }
        }

        if (facts.SecretInPatch is { } secretName)
        {
            violations.Add(Violation.ForPath(ViolationKind.SecretInPatch, "(patch)", $"contains the value of {secretName}, which was passed into the container"));
        }

        if (facts.SecretInOutput is { } encoded)
        {
            violations.Add(Violation.ForPath(ViolationKind.SecretInOutput, "(output)", $"printed the value of {encoded}, which was passed into the container"));
        }

        violations.AddRange(facts.HarvestProblems.Select(p => Violation.ForPath(ViolationKind.Unjudgeable, "(harvest)", p)));
        return violations;
    }

    private static List<string> Notes(TaskFacts facts, TaskPolicy policy, List<Violation> violations, int failing)
    {
        var transcript = facts.Transcript;
        var notes = new List<string>();
        notes.AddRange(violations.Take(20).Select(v => Cap(v.ToString(), 400)));
        if (violations.Count > 20)
        {
            notes.Add($"… and {violations.Count - 20} more violation(s), listed in violations");
        }

        if (failing > 0)
        {
            notes.Add("the patch is kept for inspection but marked not applicable because of the violations above");
        }

        if (failing < violations.Count)
        {
            notes.Add($"command_policy is audit: {violations.Count - failing} command violation(s) are reported only and do not change the task's status");
        }

        switch (facts.End)
        {
            case TaskEnd.Cancelled:
                notes.Add("cancelled: the container was killed; changes made until then are in the patch");
                break;
            case TaskEnd.Interrupted:
                notes.Add("interrupted: the server process was gone before this task ended; its tree was recovered and judged when the next server started");
                break;
            case TaskEnd.TimedOut:
                notes.Add($"timeout: killed at the {policy.Timeout.TotalSeconds:F0} s deadline; changes made until then are in the patch");
                break;
            case TaskEnd.LimitExceeded:
                notes.Add($"stopped: the task passed {facts.LimitPassed}; changes made until then are kept within the limits");
                break;
            case TaskEnd.RunnerError:
                notes.Add($"runner error: {facts.RunnerError}");
                break;
        }

        if (transcript.TurnFailure is { } failure)
        {
            if (ModelErrors.ProxyCouldNotReachModel(failure) || transcript.Warnings.Any(ModelErrors.ProxyCouldNotReachModel))
            {
                notes.Add("the model API did not answer: the run's egress proxy got no reply from model_base_url (by default https://api.openai.com/v1), "
                    + "so the machine that runs the engine cannot reach it; check its outbound HTTPS access (a firewall, or a proxy it must use); "
                    + "not the agent's doing, and the key stayed in the proxy");
            }

            notes.Add($"turn failed: {failure}");
        }

        if (policy.Verify && facts.Verification is { } verification)
        {
            notes.AddRange(VerificationNotes(verification, facts.VerificationCancelled));
        }

        if (facts.ExitCode is { } code and not 0)
        {
            notes.Add($"codex exited with code {code}");
        }

        notes.AddRange(transcript.Warnings.Select(w => $"codex warning: {w}"));
        if (transcript.WarningCount > transcript.Warnings.Count)
        {
            notes.Add($"codex reported {transcript.WarningCount} warning(s) in all; the first distinct ones are above");
        }

        if (transcript.EventCount == 0 && facts.End == TaskEnd.Exited)
        {
            notes.Add("codex printed no JSONL events; see logs.stderr");
        }

        if (facts.Changes.Warnings.Length > 0)
        {
            notes.Add($"some files could not be read for the patch: {Cap(facts.Changes.Warnings, 2000)}");
        }

        if (!facts.OnBase.Applies)
        {
            notes.Add("the patch does not apply to the base commit; see apply_check_log");
        }

        if (facts.Branch is { } branch)
        {
            notes.Add($"the task's tree is on branch {branch}");
        }

        return notes;
    }

    /// <summary>The verification's verdict in a line (naming the failing command), and the inputs the task changed.</summary>
    private static IEnumerable<string> VerificationNotes(Verification.VerificationReport verification, bool cancelled)
    {
        var failed = verification.FirstFailure;
        yield return verification.Status switch
        {
            Verification.VerificationStatus.Passed => $"verification passed: {verification.Commands.Count} command(s) exited 0",
            Verification.VerificationStatus.TimedOut when failed is not null =>
                $"verification timed out: `{Cap(failed.Command, 200)}` was killed after {failed.DurationMs / 1000.0:0.#} s; see verification.commands",
            Verification.VerificationStatus.Failed when failed is not null =>
                $"verification failed: `{Cap(failed.Command, 200)}` {(failed.ExitCode is { } code ? $"exited {code}" : "was stopped")}{(verification.Reason is { } why ? $" ({why})" : "")}; its output's end is in verification.commands",
            _ when cancelled => $"cancelled during verification: the agent had finished and its work is kept; {verification.Reason}",
            _ => $"verification {verification.Status.Wire()}: {verification.Reason}",
        };

        if (verification.ChangedInputs.Count > 0)
        {
            var more = verification.ChangedInputsOmitted > 0 ? $" and {verification.ChangedInputsOmitted} more" : "";
            yield return $"the task changed what the verify commands depend on: {Cap(string.Join(", ", verification.ChangedInputs.Take(10)), 1000)}{(verification.ChangedInputs.Count > 10 ? ", …" : "")}{more} (verification.changed_inputs)";
        }
    }

    private static string Cap(string text, int chars) => Platform.TextCap.Cap(text, chars);
}

using SandboxRunner.Codex;

namespace SandboxRunner.Tests.Codex;

/// <summary>How the transcript folds JSONL events it was not shown in the fixtures.</summary>
public sealed class CodexTranscriptTests
{
    private const string Completed = """{"type":"turn.completed","usage":{"input_tokens":60,"cached_input_tokens":5,"cache_write_input_tokens":1,"output_tokens":15,"reasoning_output_tokens":2}}""";

    private static string CommandItem(string phase, string command, string exitCode, string status = "completed", string output = "") =>
        $$$"""{"type":"item.{{{phase}}}","item":{"id":"item_0","type":"command_execution","command":"{{{command}}}","aggregated_output":"{{{output}}}","exit_code":{{{exitCode}}},"status":"{{{status}}}"}}""";

    [Fact]
    public void Usage_is_summed_across_turn_completed_events()
    {
        var t = CodexTranscript.Parse([Completed, Completed.Replace("60", "40", StringComparison.Ordinal)]);

        Assert.Equal(new CodexUsage(100, 10, 2, 30, 4), t.Usage);
    }

    [Fact]
    public void Turn_completed_without_usage_completes_the_turn_and_counts_nothing()
    {
        var t = CodexTranscript.Parse(["""{"type":"turn.completed"}"""]);

        Assert.True(t.TurnCompleted);
        Assert.Equal(CodexUsage.Zero, t.Usage);
    }

    [Fact]
    public void Usage_fields_that_are_missing_or_not_numbers_count_as_zero()
    {
        var t = CodexTranscript.Parse(["""{"type":"turn.completed","usage":{"input_tokens":"60","output_tokens":7}}"""]);

        Assert.Equal(new CodexUsage(0, 0, 0, 7, 0), t.Usage);
    }

    [Fact]
    public void Unknown_event_types_are_counted_as_events_and_otherwise_ignored()
    {
        var t = CodexTranscript.Parse(["""{"type":"turn.started"}""", """{"type":"thread.archived","x":1}""", """{"type":"item.updated","item":{"type":"agent_message","text":"draft"}}"""]);

        Assert.Equal(3, t.EventCount);
        Assert.Equal(0, t.UnparsedLines);
        Assert.Null(t.LastAgentMessage);
        Assert.Empty(t.Commands);
        Assert.Empty(t.Warnings);
        Assert.False(t.TurnCompleted);
    }

    [Fact]
    public void Unknown_item_types_are_ignored()
    {
        var t = CodexTranscript.Parse(["""{"type":"item.completed","item":{"type":"reasoning","text":"thinking"}}""", """{"type":"item.completed","item":{"type":"web_search","query":"x"}}"""]);

        Assert.Equal(2, t.EventCount);
        Assert.Null(t.LastAgentMessage);
        Assert.Empty(t.Commands);
    }

    [Fact]
    public void Unknown_fields_are_ignored()
    {
        var t = CodexTranscript.Parse([
            """{"type":"item.completed","future":{"a":[1,2]},"item":{"type":"agent_message","text":"hi","lang":"en"}}""",
            """{"type":"turn.completed","extra":true,"usage":{"input_tokens":3,"new_kind_tokens":99}}""",
        ]);

        Assert.Equal("hi", t.LastAgentMessage);
        Assert.Equal(new CodexUsage(3, 0, 0, 0, 0), t.Usage);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{")]
    [InlineData("{\"type\":\"turn.completed\"")]
    [InlineData("Reconnecting... 1/5")]
    [InlineData("[1,2]")]
    [InlineData("[{\"type\":\"turn.completed\"}]")]
    [InlineData("42")]
    [InlineData("\"turn.completed\"")]
    [InlineData("null")]
    [InlineData("true")]
    [InlineData("{}")]
    [InlineData("{\"kind\":\"turn.completed\"}")]
    [InlineData("{\"type\":null}")]
    [InlineData("{\"type\":7}")]
    [InlineData("{\"type\":{\"name\":\"turn.completed\"}}")]
    public void Line_that_is_not_an_event_counts_as_unparsed_and_does_not_throw(string line)
    {
        var t = CodexTranscript.Parse([line]);

        Assert.Equal(1, t.UnparsedLines);
        Assert.Equal(0, t.EventCount);
        Assert.False(t.TurnCompleted);
    }

    [Fact]
    public void Unparsed_lines_do_not_stop_the_events_after_them()
    {
        var t = CodexTranscript.Parse(["garbage", """{"type":"thread.started","thread_id":"t1"}""", "[]", Completed]);

        Assert.Equal(2, t.UnparsedLines);
        Assert.Equal(2, t.EventCount);
        Assert.Equal("t1", t.ThreadId);
        Assert.True(t.TurnCompleted);
    }

    [Fact]
    public void Event_with_an_unpaired_surrogate_escape_does_not_throw()
    {
        var t = new CodexTranscript();

        var thrown = Record.Exception(() => t.Accept("""{"type":"\ud800"}"""));

        Assert.Null(thrown);
    }

    [Fact]
    public void Agent_message_with_an_unpaired_surrogate_escape_does_not_throw()
    {
        var t = new CodexTranscript();

        var thrown = Record.Exception(() => t.Accept("""{"type":"item.completed","item":{"type":"agent_message","text":"a\udc00b"}}"""));

        Assert.Null(thrown);
    }

    [Fact]
    public void An_event_whose_command_does_not_decode_is_one_unparsed_line_and_no_event()
    {
        var t = new CodexTranscript();

        t.Accept("""{"type":"item.completed","item":{"type":"command_execution","command":"\ud800"}}""");

        Assert.Equal((0, 1), (t.EventCount, t.UnparsedLines));
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("\t")]
    [InlineData("\r")]
    public void Blank_lines_are_ignored(string line)
    {
        var t = CodexTranscript.Parse([line, line]);

        Assert.Equal(0, t.UnparsedLines);
        Assert.Equal(0, t.EventCount);
    }

    [Fact]
    public void Error_item_is_a_warning_not_a_failure()
    {
        var t = CodexTranscript.Parse([
            """{"type":"item.completed","item":{"id":"item_3","type":"error","message":"command timed out"}}""",
            Completed,
        ]);

        Assert.Equal(["command timed out"], t.Warnings);
        Assert.Null(t.TurnFailure);
        Assert.True(t.TurnCompleted);
    }

    [Fact]
    public void Error_item_without_a_message_warns_error()
    {
        Assert.Equal(["error"], CodexTranscript.Parse(["""{"type":"item.completed","item":{"type":"error"}}"""]).Warnings);
    }

    [Fact]
    public void A_model_error_quoting_an_html_page_keeps_only_its_title()
    {
        var page = "<html>\\r\\n<head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>";
        var t = CodexTranscript.Parse([
            $$$"""{"type":"error","message":"Reconnecting... 1/5 (unexpected status 502 Bad Gateway: {{{page}}}, url: http://sandbox-proxy:8080/responses)"}""",
            $$$"""{"type":"turn.failed","error":{"message":"unexpected status 502 Bad Gateway: {{{page}}}, url: http://sandbox-proxy:8080/responses"}}""",
        ]);

        Assert.Equal(["Reconnecting... 1/5 (unexpected status 502 Bad Gateway: [502 Bad Gateway], url: http://sandbox-proxy:8080/responses)"], t.Warnings);
        Assert.Equal("unexpected status 502 Bad Gateway: [502 Bad Gateway], url: http://sandbox-proxy:8080/responses", t.TurnFailure);
    }

    [Fact]
    public void Top_level_error_event_alone_is_a_warning_not_a_failure()
    {
        var t = CodexTranscript.Parse(["""{"type":"error","message":"Reconnecting... 1/5"}"""]);

        Assert.Equal(["Reconnecting... 1/5"], t.Warnings);
        Assert.Null(t.TurnFailure);
        Assert.False(t.TurnCompleted);
    }

    [Fact]
    public void Top_level_error_without_a_message_warns_error()
    {
        Assert.Equal(["error"], CodexTranscript.Parse(["""{"type":"error"}"""]).Warnings);
    }

    [Fact]
    public void Warnings_keep_their_order()
    {
        var t = CodexTranscript.Parse([
            """{"type":"error","message":"Reconnecting... 1/5"}""",
            """{"type":"item.completed","item":{"type":"error","message":"item problem"}}""",
            """{"type":"error","message":"Reconnecting... 2/5"}""",
        ]);

        Assert.Equal(["Reconnecting... 1/5", "item problem", "Reconnecting... 2/5"], t.Warnings);
    }

    [Theory]
    [InlineData("""{"type":"turn.failed","error":{"message":"quota exceeded"}}""", "quota exceeded")]
    [InlineData("""{"type":"turn.failed","error":{}}""", "turn failed")]
    [InlineData("""{"type":"turn.failed","error":"quota exceeded"}""", "turn failed")]
    [InlineData("""{"type":"turn.failed"}""", "turn failed")]
    public void Turn_failed_sets_the_failure(string line, string failure)
    {
        Assert.Equal(failure, CodexTranscript.Parse([line]).TurnFailure);
    }

    [Fact]
    public void Command_with_exit_code_null_has_no_exit_code()
    {
        var t = CodexTranscript.Parse([CommandItem("completed", "sleep 999", "null", status: "declined")]);

        var command = Assert.Single(t.Commands);
        Assert.Null(command.ExitCode);
        Assert.Equal("declined", command.Status);
    }

    [Theory]
    [InlineData("1", 1)]
    [InlineData("127", 127)]
    [InlineData("-1", -1)]
    [InlineData("\"1\"", null)]
    [InlineData("1.5", null)]
    [InlineData("99999999999", null)]
    public void Command_exit_code_is_kept_only_when_it_is_a_whole_number(string exitCode, int? expected)
    {
        Assert.Equal(expected, Assert.Single(CodexTranscript.Parse([CommandItem("completed", "false", exitCode)]).Commands).ExitCode);
    }

    [Fact]
    public void Command_without_command_or_status_reads_as_empty_and_completed()
    {
        var command = Assert.Single(CodexTranscript.Parse(["""{"type":"item.completed","item":{"type":"command_execution"}}"""]).Commands);

        Assert.Equal(new CommandRun("", null, "completed"), command);
        Assert.Equal("", command.OutputTail);
    }

    [Fact]
    public void Command_output_tail_keeps_the_last_4096_characters_after_an_ellipsis()
    {
        var output = new string('a', 100) + new string('b', CodexTranscript.OutputTailChars);

        var command = Assert.Single(CodexTranscript.Parse([CommandItem("completed", "x", "0", output: output)]).Commands);

        Assert.Equal("…" + new string('b', CodexTranscript.OutputTailChars), command.OutputTail);
    }

    [Fact]
    public void Command_output_tail_never_starts_inside_a_surrogate_pair()
    {
        var output = new string('a', 10) + string.Concat(Enumerable.Repeat("😀", CodexTranscript.OutputTailChars));

        var tail = Assert.Single(CodexTranscript.Parse([CommandItem("completed", "x", "0", output: output)]).Commands).OutputTail;

        Assert.False(char.IsLowSurrogate(tail[1]), "the tail starts with half a character");
    }

    [Fact]
    public void A_command_started_but_never_completed_is_kept_in_progress_so_it_is_audited()
    {
        // A task killed at its deadline mid-command: Codex printed item.started only.
        var t = CodexTranscript.Parse([CommandItem("started", "ls", "null", status: "in_progress")]);

        var command = Assert.Single(t.Commands);
        Assert.Equal(("ls", "in_progress", (int?)null), (command.Cmd, command.Status, command.ExitCode));
        Assert.Equal(1, t.EventCount);
    }

    [Fact]
    public void Started_and_completed_command_is_recorded_once()
    {
        var t = CodexTranscript.Parse([CommandItem("started", "ls", "null", status: "in_progress"), CommandItem("completed", "ls", "0")]);

        Assert.Equal([new CommandRun("ls", 0, "completed")], t.Commands);
    }

    [Fact]
    public void Command_completed_fires_once_per_completed_command_in_order()
    {
        var t = new CodexTranscript();
        var fired = new List<CommandRun>();
        t.CommandCompleted += fired.Add;

        t.Accept(CommandItem("started", "one", "null", status: "in_progress"));
        t.Accept(CommandItem("completed", "one", "0"));
        t.Accept(CommandItem("started", "two", "null", status: "in_progress"));
        t.Accept(CommandItem("completed", "two", "2", status: "failed"));
        t.Accept("""{"type":"item.completed","item":{"type":"agent_message","text":"done"}}""");

        Assert.Equal([new CommandRun("one", 0, "completed"), new CommandRun("two", 2, "failed")], fired);
        Assert.Equal(t.Commands, fired);
    }

    [Fact]
    public void Last_agent_message_is_the_latest_one_with_text()
    {
        var t = CodexTranscript.Parse([
            """{"type":"item.completed","item":{"type":"agent_message","text":"first"}}""",
            """{"type":"item.completed","item":{"type":"agent_message","text":"second"}}""",
            """{"type":"item.completed","item":{"type":"agent_message"}}""",
        ]);

        Assert.Equal("second", t.LastAgentMessage);
    }

    [Fact]
    public void File_change_entries_that_are_not_objects_are_skipped()
    {
        var t = CodexTranscript.Parse([
            """{"type":"item.completed","item":{"type":"file_change","changes":["/workspace/a",{"path":"/workspace/b","kind":"delete"},{"kind":"add"}]}}""",
            """{"type":"item.completed","item":{"type":"file_change","changes":"nope"}}""",
        ]);

        Assert.Equal([new ClaimedChange("/workspace/b", "delete"), new ClaimedChange("", "add")], t.ClaimedChanges);
    }

    [Theory]
    [InlineData("""{"type":"item.completed"}""")]
    [InlineData("""{"type":"item.completed","item":null}""")]
    [InlineData("""{"type":"item.completed","item":"command_execution"}""")]
    [InlineData("""{"type":"item.completed","item":{}}""")]
    public void Item_completed_without_an_item_object_is_ignored(string line)
    {
        var t = CodexTranscript.Parse([line]);

        Assert.Equal(1, t.EventCount);
        Assert.Empty(t.Commands);
        Assert.Empty(t.ClaimedChanges);
        Assert.Empty(t.Warnings);
    }

    [Fact]
    public void Thread_started_keeps_the_thread_id()
    {
        Assert.Equal("abc", CodexTranscript.Parse(["""{"type":"thread.started","thread_id":"abc"}"""]).ThreadId);
    }

    [Fact]
    public void Lines_can_be_accepted_one_at_a_time()
    {
        var t = new CodexTranscript();

        t.Accept("""{"type":"thread.started","thread_id":"abc"}""");
        t.Accept(Completed);

        Assert.Equal("abc", t.ThreadId);
        Assert.True(t.TurnCompleted);
        Assert.Equal(2, t.EventCount);
    }

    [Fact]
    public void An_event_whose_strings_do_not_decode_is_one_unparsed_line_and_no_event()
    {
        var t = new CodexTranscript();

        t.Accept("""{"type":"item.completed","item":{"type":"command_execution","command":"\ud800","exit_code":0}}""");

        Assert.Equal(0, t.EventCount);
        Assert.Equal(1, t.UnparsedLines);
    }
}

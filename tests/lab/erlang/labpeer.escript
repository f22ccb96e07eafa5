#!/usr/bin/env escript
%% labpeer: an Erlang/OTP ssl peer for tls-audit's stack lab (tests/lab/run-lab.sh).
%%
%% One program, server or client, configured entirely by flags so that the lab
%% script can record exactly what was configured as the ground truth. It moves
%% one short line each way per connection (the lab never inspects it).
%%
%%   escript labpeer.escript server IP PORT --cert s.crt --key s.key --ca ca.crt
%%       --version 1.3 --client-auth none|optional|require [--groups x25519,secp256r1]
%%       [--count N] [--keylog FILE] [--expect-fail]
%%   escript labpeer.escript client IP PORT --sni NAME --ca ca.crt [--cert c.crt --key c.key]
%%       --version 1.3 [--groups ...] [--count N] [--resume] [--keylog FILE] [--expect-fail]
%%
%% client-auth: none = verify_none (no CertificateRequest); optional =
%% verify_peer + fail_if_no_peer_cert false; require = verify_peer +
%% fail_if_no_peer_cert true. --keylog writes the NSS key-log lines OTP keeps
%% with keep_secrets (ssl:connection_information(S, [keylog]); TLS 1.3 only).
%% Exit status: 0 every connection behaved as expected, 1 otherwise, 2 usage.

main([Mode, Ip, Port | Rest]) ->
    Opts = parse(Rest, #{}),
    {ok, Addr} = inet:parse_address(Ip),
    {ok, _} = application:ensure_all_started(ssl),
    Count = list_to_integer(maps:get("count", Opts, "1")),
    ExpectFail = maps:is_key("expect-fail", Opts),
    Bad = case Mode of
        "server" -> server(Addr, list_to_integer(Port), Opts, Count, ExpectFail);
        "client" -> client(Addr, list_to_integer(Port), Opts, Count, ExpectFail);
        _ -> usage("mode must be server or client")
    end,
    halt(case Bad of 0 -> 0; _ -> 1 end);
main(_) ->
    usage("server|client IP PORT [options]").

usage(Why) ->
    io:format(standard_error, "labpeer(erlang): ~s~n", [Why]),
    halt(2).

parse([], Acc) -> Acc;
parse(["--expect-fail" | T], Acc) -> parse(T, Acc#{"expect-fail" => true});
parse(["--resume" | T], Acc) -> parse(T, Acc#{"resume" => true});
parse(["--" ++ K, V | T], Acc) -> parse(T, Acc#{K => V});
parse([A | _], _) -> usage("unexpected " ++ A).

version(Opts) ->
    case maps:get("version", Opts, "1.3") of
        "1.2" -> 'tlsv1.2';
        "1.3" -> 'tlsv1.3';
        V -> usage("unknown version " ++ V)
    end.

common(Opts) ->
    V = version(Opts),
    Base = [{versions, [V]}, {cacertfile, maps:get("ca", Opts)}, {active, false},
            {mode, binary}, {keep_secrets, true}],
    Cert = case maps:find("cert", Opts) of
        {ok, C} -> [{certfile, C}, {keyfile, maps:get("key", Opts)}];
        error -> []
    end,
    Groups = case maps:find("groups", Opts) of
        {ok, G} -> [{supported_groups, [list_to_atom(X) || X <- string:tokens(G, ",")]}];
        error -> []
    end,
    Base ++ Cert ++ Groups.

keylog(S, Opts) ->
    case maps:find("keylog", Opts) of
        {ok, File} ->
            case ssl:connection_information(S, [keylog]) of
                {ok, [{keylog, Lines}]} ->
                    ok = file:write_file(File, [[L, $\n] || L <- Lines], [append]);
                _ -> ok % TLS 1.2: OTP gives no NSS lines
            end;
        error -> ok
    end.

server(Addr, Port, Opts, Count, ExpectFail) ->
    Auth = case maps:get("client-auth", Opts, "none") of
        "none" -> [{verify, verify_none}];
        "optional" -> [{verify, verify_peer}, {fail_if_no_peer_cert, false}];
        "require" -> [{verify, verify_peer}, {fail_if_no_peer_cert, true}];
        A -> usage("unknown client-auth " ++ A)
    end,
    Tickets = case version(Opts) of
        'tlsv1.3' -> [{session_tickets, stateless}];
        _ -> [{reuse_sessions, true}]
    end,
    {ok, L} = ssl:listen(Port, [{ip, Addr}, {reuseaddr, true}] ++ common(Opts) ++ Auth ++ Tickets),
    io:format("listening~n"),
    lists:sum([serve_one(L, I, Opts, ExpectFail) || I <- lists:seq(0, Count - 1)]).

serve_one(L, I, Opts, ExpectFail) ->
    {ok, T} = ssl:transport_accept(L, 15000),
    R = case ssl:handshake(T, 15000) of
        {ok, S} ->
            keylog(S, Opts),
            Res = case ssl:recv(S, 0, 15000) of
                {ok, _Line} ->
                    Certs = case ssl:peercert(S) of {ok, _} -> 1; _ -> 0 end,
                    {ok, Info} = ssl:connection_information(S, [protocol, session_resumption]),
                    io:format("conn ~b: ~p client_certs=~b~n", [I, Info, Certs]),
                    ssl:send(S, <<"pong\n">>);
                E -> E
            end,
            ssl:close(S),
            Res;
        E -> E
    end,
    check("server", I, R, ExpectFail).

check(Side, I, R, ExpectFail) ->
    case {R, ExpectFail} of
        {ok, false} -> 0;
        {ok, true} ->
            io:format(standard_error, "labpeer(erlang): ~s conn ~b succeeded, expected a failure~n", [Side, I]), 1;
        {Err, true} -> io:format("conn ~b: failed as expected: ~p~n", [I, Err]), 0;
        {Err, false} ->
            io:format(standard_error, "labpeer(erlang): ~s conn ~b: ~p~n", [Side, I, Err]), 1
    end.

client(Addr, Port, Opts, Count, ExpectFail) ->
    Sni = [{server_name_indication, maps:get("sni", Opts)} || maps:is_key("sni", Opts)],
    Resume = case {maps:is_key("resume", Opts), version(Opts)} of
        {true, 'tlsv1.3'} -> [{session_tickets, auto}];
        {true, _} -> [{reuse_sessions, true}];
        {false, 'tlsv1.3'} -> [{session_tickets, disabled}];
        {false, _} -> [{reuse_sessions, false}]
    end,
    O = [{verify, verify_peer}] ++ Sni ++ common(Opts) ++ Resume,
    lists:sum([connect_one(Addr, Port, O, I, Opts, ExpectFail) || I <- lists:seq(0, Count - 1)]).

connect_one(Addr, Port, O, I, Opts, ExpectFail) ->
    R = case ssl:connect(Addr, Port, O, 15000) of
        {ok, S} ->
            keylog(S, Opts),
            Res = case ssl:send(S, <<"ping\n">>) of
                ok -> case ssl:recv(S, 0, 15000) of
                          {ok, _} ->
                              {ok, Info} = ssl:connection_information(S, [protocol, session_resumption]),
                              io:format("conn ~b: ~p~n", [I, Info]),
                              ok;
                          E -> E
                      end;
                E -> E
            end,
            ssl:close(S),
            Res;
        E -> E
    end,
    check("client", I, R, ExpectFail).
